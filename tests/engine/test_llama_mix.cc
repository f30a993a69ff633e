// llama.cpp's per-tensor type choice (engine/compress/llama_mix.h), the file type table
// (engine/gguf/file_type.h) and the variants built on them: against the files llama-quantize
// made in ../shared/reference/kquants, and on small in-memory models.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "engine/backends/backend.h"
#include "engine/compress/apply.h"
#include "engine/compress/fidelity.h"
#include "engine/compress/llama_mix.h"
#include "engine/compress/variant.h"
#include "engine/core/error.h"
#include "engine/gguf/file_type.h"
#include "engine/gguf/gguf.h"
#include "engine/model/config.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "harness/model_loader.h"
#include "harness/variants.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::compress;

namespace {

MixModel mix_model_of(const GgufFile& f) {
  const ModelConfig c = ModelConfig::from_gguf(f);
  return {c.arch, c.n_layer, c.n_head, c.n_head_kv, f.tensor("output.weight") != nullptr};
}

}  // namespace

TEST_CASE("llama mix: the type of every tensor of llama-quantize's files", "[shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::shared_path("reference/kquants");
  auto base = GgufFile::open(dir + "/kq-base.gguf");
  const MixModel mm = mix_model_of(*base);
  const std::pair<const char*, int> files[] = {{"kq-Q2_K", 10},   {"kq-Q3_K_M", 12}, {"kq-Q4_K_M", 15}, {"kq-Q4_K_S", 14},
                                               {"kq-Q5_K_M", 17}, {"kq-Q6_K", 18},   {"kq-Q4_1", 3},    {"kq-Q5_0", 8},
                                               {"kq-Q5_1", 9},    {"kq-IQ4_NL", 25}, {"kq-IQ4_XS", 30}};
  for (const auto& [f, ftype] : files) {
    auto q = GgufFile::open(dir + "/" + f + ".gguf");
    CHECK(q->get_int("general.file_type", -1) == ftype);
    int compared = 0;
    for (const auto& t : q->tensors()) {
      if (t.ne.size() != 2) continue;  // norms stay f32
      INFO(f << " " << t.name);
      CHECK(ggml_type_name(uint32_t(llama_mix_type(ftype, mm, t.name, t.ne[0]))) == ggml_type_name(uint32_t(t.type)));
      ++compared;
    }
    CHECK(compared == 16);
  }
}

TEST_CASE("llama mix: layer rules, GQA, tied output and row-size fallbacks", "[unit]") {
  MixModel m{"llama", 32, 32, 8, true};  // GQA 4
  const int q4_k_m = 15, q3_k_m = 12, q2_k = 10, q4_k_s = 14, iq4_xs = 30;
  // "more bits" layers of 32: 0-3, 28-31, and (i - 4) % 3 == 2
  for (int i = 0; i < 32; ++i) {
    const bool more = i < 4 || i >= 28 || (i - 4) % 3 == 2;
    INFO("layer " << i);
    CHECK(llama_mix_type(q4_k_m, m, "blk." + std::to_string(i) + ".attn_v.weight", 4096) == (more ? GgmlType::Q6_K : GgmlType::Q4_K));
    CHECK(llama_mix_type(q4_k_m, m, "blk." + std::to_string(i) + ".ffn_down.weight", 14336) == (more ? GgmlType::Q6_K : GgmlType::Q4_K));
    CHECK(llama_mix_type(q4_k_m, m, "blk." + std::to_string(i) + ".attn_q.weight", 4096) == GgmlType::Q4_K);
    CHECK(llama_mix_type(q3_k_m, m, "blk." + std::to_string(i) + ".attn_v.weight", 4096) == (i < 2 ? GgmlType::Q5_K : GgmlType::Q4_K));
    CHECK(llama_mix_type(q3_k_m, m, "blk." + std::to_string(i) + ".ffn_down.weight", 4096) == (i < 2 ? GgmlType::Q5_K : GgmlType::Q4_K));
    CHECK(llama_mix_type(q4_k_s, m, "blk." + std::to_string(i) + ".ffn_down.weight", 4096) == (i < 4 ? GgmlType::Q5_K : GgmlType::Q4_K));
    CHECK(llama_mix_type(iq4_xs, m, "blk." + std::to_string(i) + ".attn_v.weight", 4096) == GgmlType::Q5_K);  // GQA >= 4
  }
  CHECK(llama_mix_type(q2_k, m, "blk.3.attn_v.weight", 4096) == GgmlType::Q4_K);  // GQA >= 4
  CHECK(llama_mix_type(q4_k_m, m, "output.weight", 4096) == GgmlType::Q6_K);
  CHECK(llama_mix_type(q4_k_m, m, "token_embd.weight", 4096) == GgmlType::Q4_K);
  m.has_output = false;  // tied embeddings: the table is the output
  CHECK(llama_mix_type(q4_k_m, m, "token_embd.weight", 4096) == GgmlType::Q6_K);
  // rows that are not whole 256-value blocks
  CHECK(llama_mix_type(q4_k_m, m, "blk.5.attn_q.weight", 288) == GgmlType::Q5_0);
  CHECK(llama_mix_type(q4_k_m, m, "blk.0.ffn_down.weight", 288) == GgmlType::Q8_0);  // Q6_K -> Q8_0
  CHECK(llama_mix_type(q4_k_m, m, "token_embd.weight", 288) == GgmlType::Q8_0);      // output rule, then Q6_K -> Q8_0
  CHECK(llama_mix_type(q4_k_m, m, "blk.5.attn_q.weight", 172) == GgmlType::F16);
  CHECK(block_fallback(GgmlType::Q2_K, 96) == GgmlType::IQ4_NL);
  CHECK(block_fallback(GgmlType::Q3_K, 96) == GgmlType::IQ4_NL);
  CHECK(block_fallback(GgmlType::IQ4_XS, 96) == GgmlType::IQ4_NL);
  CHECK(block_fallback(GgmlType::Q5_K, 96) == GgmlType::Q5_1);
  CHECK(block_fallback(GgmlType::Q4_0, 48) == GgmlType::F16);
  CHECK(block_fallback(GgmlType::Q4_K, 512) == GgmlType::Q4_K);
  // 70B llama: 80 layers with GQA raise attn_v to Q5_K
  MixModel big{"llama", 80, 64, 8, true};
  CHECK(llama_mix_type(q4_k_m, big, "blk.11.attn_v.weight", 8192) == GgmlType::Q5_K);  // Q4_K raised
  CHECK(llama_mix_type(q4_k_m, big, "blk.5.attn_v.weight", 8192) == GgmlType::Q6_K);   // more bits stay
  big.n_head_kv = 64;                                                                  // 65B (no GQA): not raised
  CHECK(llama_mix_type(q4_k_m, big, "blk.11.attn_v.weight", 8192) == GgmlType::Q4_K);
  CHECK_THROWS_AS(llama_mix_type(99, m, "output.weight", 4096), Error);
}

TEST_CASE("file types: one table, pure types labelled like llama-quantize's aliases", "[unit]") {
  CHECK(llama_file_type_of(GgmlType::F32) == 0);
  CHECK(llama_file_type_of(GgmlType::F16) == 1);
  CHECK(llama_file_type_of(GgmlType::Q4_0) == 2);
  CHECK(llama_file_type_of(GgmlType::Q8_0) == 7);
  CHECK(llama_file_type_of(GgmlType::Q4_K) == 15);
  CHECK(llama_file_type_of(GgmlType::Q6_K) == 18);
  CHECK(llama_file_type_of(GgmlType::IQ4_XS) == 30);
  CHECK(llama_file_type_of(GgmlType::BF16) == 32);
  CHECK_FALSE(llama_file_type_of(GgmlType::Q8_K));
  CHECK(find_llama_file_type("q4_k_m")->id == 15);
  CHECK(find_llama_file_type(14)->base == GgmlType::Q4_K);
  size_t n = 0;
  const LlamaFileType* all = llama_file_types(&n);
  for (size_t i = 1; i < n; ++i) CHECK(all[i - 1].id < all[i].id);
  // the variant specs of every file type
  CHECK(parse_variant("q4_k_m").llama_mix() == 15);
  CHECK(parse_variant("q4_k_m").file_type() == 15);
  CHECK_FALSE(parse_variant("q4_k_m").gguf_type());
  CHECK(parse_variant("q4_k").gguf_type() == GgmlType::Q4_K);
  CHECK(parse_variant("q4_k").file_type() == 15);
  CHECK(parse_variant("iq4_nl").file_type() == 25);
  CHECK(parse_variant("q8_0").file_type() == 7);
  CHECK_FALSE(parse_variant("int8").file_type());
  CHECK(parse_variant("prune:0.5+q3_k_m").name() == "q3_k_m+prune:0.5");
  for (const char* s :
       {"q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q5_k", "q6_k", "iq4_xs", "q3_k_s", "q3_k_l", "q4_k_s", "q5_k_s", "q5_k_m"}) {
    INFO(s);
    CHECK(parse_variant(s).name() == s);
    CHECK(parse_variant(s).converts_weights());
  }
  CHECK_THROWS_WITH(parse_variant("q4_k_m+q8_0"), Catch::Contains("second weight type"));
  CHECK_THROWS_WITH(parse_variant("q4_k_x"), Catch::Contains("q4_k_m"));  // the known list names the mixes
}

TEST_CASE("llama mix: model quantize of kq-base writes llama-quantize's files, tensor for tensor", "[shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::shared_path("reference/kquants");
  auto base = GgufFile::open(dir + "/kq-base.gguf");
  const std::string out = test::temp_dir("llama-mix");
  const std::pair<const char*, const char*> pairs[] = {{"q4_k_m", "kq-Q4_K_M"}, {"q4_k_s", "kq-Q4_K_S"},  {"q3_k_m", "kq-Q3_K_M"},
                                                       {"q5_k_m", "kq-Q5_K_M"}, {"q4_0", "kq-pure-Q4_0"}, {"q8_0", "kq-pure-Q8_0"}};
  for (const auto& [spec, ref_name] : pairs) {
    const std::string path = out + "/" + spec + ".gguf";
    auto r = test::run_cli({"model", "quantize", "-m", dir + "/kq-base.gguf", "-o", path, "--variant", spec});
    INFO(spec << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    auto ours = GgufFile::open(path);
    auto ref = GgufFile::open(dir + "/" + ref_name + ".gguf");
    CHECK(ours->get_int("general.file_type", -1) == ref->get_int("general.file_type", -2));
    REQUIRE(ours->tensors().size() == ref->tensors().size());
    std::map<std::string, int> mix;
    for (const auto& t : ref->tensors()) {
      const GgufTensorInfo* o = ours->tensor(t.name);
      REQUIRE(o);
      INFO(t.name);
      CHECK(ggml_type_name(uint32_t(o->type)) == ggml_type_name(uint32_t(t.type)));
      CHECK(o->ne == t.ne);
      if (o->type == t.type && o->nbytes == t.nbytes)  // the quantizers are llama.cpp's: the same bytes
        CHECK(std::equal(ours->tensor_data(*o), ours->tensor_data(*o) + o->nbytes, ref->tensor_data(t)));
      mix[ggml_type_name(uint32_t(o->type))]++;
    }
    CHECK(mix["f32"] == 5);
  }
}

TEST_CASE("variants: KLD on kq-base orders q8_0 < q6_k < q5_k_m < q4_k_m < q3_k_m < q2_k", "[variants][fidelity][shared]") {
  if (test::skip_without_shared()) return;
  // kq-base: every row a multiple of 256 values, so the K-quants apply everywhere
  auto file = GgufFile::open(test::shared_path("reference/kquants/kq-base.gguf"));
  auto tok = Tokenizer::from_gguf(*file);
  const std::string text = cli::read_calibration(cli::default_calibration_path());
  auto backend = create_backend(cli::default_backend(), {.threads = 2});
  auto base = Model::load(file, *backend);
  Context bctx(*base, {.n_ctx = 256, .kv_type = DType::F32});
  const auto ref = fidelity_reference(bctx, *tok, text, 128);
  REQUIRE(ref.n_scored() > 500);
  std::map<std::string, Fidelity> f;
  for (const char* spec : {"q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_k_s", "iq4_xs", "q3_k_m", "q2_k"}) {
    auto vm = apply_variant(file, parse_variant(spec), nullptr);
    CHECK(vm.report.fallback.empty());
    auto m = load_variant(vm, *backend);
    Context ctx(*m, {.n_ctx = 256, .kv_type = DType::F32});
    f[spec] = measure_fidelity(ref, ctx, *tok, text);
    std::printf("fidelity %-8s kld_mean %.6f p99 %.5f same_top1 %.2f%% ppl_ratio %.4f rms_dp %.3f%%\n", spec, f[spec].kld_mean,
                f[spec].kld_p99, f[spec].same_top1, f[spec].ppl_ratio, f[spec].rms_dp);
    CHECK(f[spec].kld_mean > 0);  // NaN fails
  }
  CHECK(f["q8_0"].kld_mean < f["q6_k"].kld_mean);
  CHECK(f["q6_k"].kld_mean < f["q5_k_m"].kld_mean);
  CHECK(f["q5_k_m"].kld_mean < f["q4_k_m"].kld_mean);
  CHECK(f["q4_k_m"].kld_mean < f["q3_k_m"].kld_mean);
  CHECK(f["q3_k_m"].kld_mean < f["q2_k"].kld_mean);
  CHECK(f["q6_k"].same_top1 > f["q2_k"].same_top1);
}

TEST_CASE("llama mix: combined with pruning, the rule sees the pruned model", "[variants][shared]") {
  if (test::skip_without_shared()) return;
  auto file = GgufFile::open(test::shared_path("reference/kquants/kq-base.gguf"));
  auto type_of = [](const VariantModel& vm, const char* name) { return ggml_type_name(uint32_t(vm.file->tensor(name)->type)); };
  // zeroed weights: the same types as q4_k_m alone
  auto pruned = apply_variant(file, parse_variant("q4_k_m+prune:0.5"), nullptr);
  CHECK(type_of(pruned, "blk.0.attn_v.weight") == "q4_k");
  CHECK(type_of(pruned, "blk.1.attn_v.weight") == "q6_k");
  CHECK(type_of(pruned, "blk.1.ffn_down.weight") == "q6_k");
  CHECK(type_of(pruned, "output.weight") == "q6_k");
  CHECK(pruned.file->get_int("general.file_type", -1) == 15);
  // 2 of 4 heads removed: attn_output rows now have 128 values, not whole Q4_K blocks -> Q5_0,
  // as llama-quantize would do on the pruned file; the notes say so
  auto heads = apply_variant(file, parse_variant("q4_k_m+prune-heads:2"), nullptr);
  CHECK(type_of(heads, "blk.0.attn_output.weight") == "q5_0");
  CHECK(type_of(heads, "blk.0.attn_q.weight") == "q4_k");
  CHECK(type_of(heads, "blk.1.attn_v.weight") == "q6_k");
  CHECK(heads.report.fallback.size() == 2);
  bool noted = false;
  for (const auto& n : heads.report.notes) noted |= n.find("attn_output.weight q4_k->q5_0 x2") != std::string::npos;
  CHECK(noted);
  // both run
  auto backend = create_backend("ref", {});
  for (const VariantModel* vm : {&pruned, &heads}) {
    auto m = load_variant(*vm, *backend);
    Context ctx(*m, {.n_ctx = 16, .kv_type = DType::F32});
    const std::vector<int32_t> ids{1, 50, 60, 70};
    std::vector<float> logits;
    ctx.eval(ids.data(), 4, false, logits);
    for (float v : logits) REQUIRE(std::isfinite(v));
  }
}
