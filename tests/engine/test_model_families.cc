// Architecture families (llama3-style llama, qwen3, gemma2, phi3) on their synthetic <arch>-tiny
// files: config parsing, loading, ref vs other backends, generate / perplexity through the real
// executable, determinism, and one-line errors for missing or inconsistent metadata.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/model/synth.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

const char* const kFamilies[] = {"llama3", "qwen3", "gemma2", "phi3"};

// A copy of `src` in memory with metadata edited by `meta` and tensors filtered/renamed by
// `keep` (return false to drop one); the bytes live in `buf`.
std::shared_ptr<const GgufFile> edited(const GgufFile& src, std::vector<uint8_t>& buf, const std::function<void(GgufWriter&)>& meta,
                                       const std::function<bool(const std::string&)>& keep = nullptr) {
  GgufWriter w;
  w.copy_metadata(src);
  if (meta) meta(w);
  for (const auto& t : src.tensors())
    if (!keep || keep(t.name)) w.add_tensor_ref(t.name, t.type, t.ne, src.tensor_data(t), size_t(t.nbytes));
  buf = w.serialize();
  return GgufFile::parse(buf.data(), buf.size(), "edited.gguf");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("families: each family preset file carries its architecture's features", "[synth][families][unit]") {
  struct Want {
    const char* family;
    const char* arch;
    RopeStyle rope;
  };
  for (auto w : {Want{"llama3", "llama", RopeStyle::Interleaved}, Want{"qwen3", "qwen3", RopeStyle::NeoX},
                 Want{"gemma2", "gemma2", RopeStyle::NeoX}, Want{"phi3", "phi3", RopeStyle::NeoX}}) {
    INFO(w.family);
    auto f = GgufFile::open(test::preset_model(find_family_preset(w.family).name));
    const ModelConfig c = ModelConfig::from_gguf(*f);
    CHECK(c.arch == w.arch);
    CHECK(c.rope_style == w.rope);
    CHECK(c.n_vocab == 32000);
    CHECK(c.rope_freqs == (std::string(w.family) == "llama3"));
    CHECK(c.qk_norm == (std::string(w.family) == "qwen3"));
    CHECK(c.fused_qkv == (std::string(w.family) == "phi3"));
    CHECK(c.geglu == (std::string(w.family) == "gemma2"));
    CHECK(c.tied_output == (std::string(w.family) != "phi3"));
    if (std::string(w.family) == "llama3") {
      CHECK(c.n_head_kv * 4 == c.n_head);
      CHECK(c.rope_base == 500000.0f);
      // llama3 factors: 1 for short wavelengths up to 8 for long ones, increasing
      auto rf = f->tensor_f32(*f->tensor("rope_freqs.weight"));
      CHECK(rf.front() == 1.0f);
      CHECK(rf.back() == 8.0f);
      for (size_t i = 1; i < rf.size(); ++i) CHECK(rf[i] >= rf[i - 1]);
    }
    if (std::string(w.family) == "gemma2") {
      CHECK(c.n_layer == 26);  // llama.cpp only builds gemma2 graphs for 26, 42 or 46 layers
      CHECK(c.head_dim == 32);
      CHECK(c.embd_scale == Approx(8.0f));
      CHECK(c.attn_scale == Approx(1.0 / std::sqrt(32.0)));
      CHECK(c.attn_softcap == 1.0f);
      CHECK(c.final_softcap == 1.0f);
      CHECK(c.window(0) == 16);
      CHECK(c.window(1) == 0);
      CHECK(f->tensor("output.weight") == nullptr);
      CHECK(f->tensor("blk.25.post_ffw_norm.weight") != nullptr);
    }
    if (std::string(w.family) == "phi3") {
      CHECK(c.n_rot == 12);
      CHECK(c.head_dim == 16);
      CHECK(c.window(0) == 32);
      CHECK(c.window(3) == 32);
      CHECK(f->tensor("blk.0.ffn_up.weight")->ne[1] == 2 * c.n_ff);
      CHECK(f->tensor("blk.0.ffn_gate.weight") == nullptr);
    }
  }
  CHECK_THROWS_WITH(find_family_preset("mamba"), Catch::Contains("llama3, qwen3, gemma2, phi3"));
}

TEST_CASE("families: every backend agrees with ref on each family's logits", "[synth][families][model]") {
  for (const char* fam : kFamilies) {
    const std::string path = test::preset_model(find_family_preset(fam).name);
    auto file = GgufFile::open(path);
    auto tok = Tokenizer::from_gguf(*file);
    // more than 32 tokens: past gemma2-tiny's window of 16 and phi3-tiny's 32
    const std::vector<int32_t> ids = tok->encode(
        "Once upon a time there was a little girl named Lily. She liked to play outside in the sun with her dog. "
        "One day they found a big red ball in the park, and they played with it until the evening came.",
        true);
    REQUIRE(ids.size() >= 34);
    auto refb = create_backend("ref");
    auto ref = Model::load(file, *refb);
    const int64_t V = ref->config().n_vocab;
    std::vector<float> want, got, step;
    {
      Context rc(*ref, {.kv_type = DType::F32});
      rc.eval(ids.data(), int64_t(ids.size()), true, want);
    }
    for (float v : want) REQUIRE(std::isfinite(v));
    const std::vector<float> last(want.end() - V, want.end());
    for (const auto& b : available_backends()) {
      auto be = create_backend(b, {.threads = 2});
      auto m = Model::load(file, *be);
      if (b != "ref") {
        Context c(*m, {.kv_type = DType::F32});
        c.eval(ids.data(), int64_t(ids.size()), true, got);
        const double d = test::max_abs_err(want, got);
        INFO(fam << " on " << b << ": max |logit diff| " << d);
        CHECK(d < 1e-3);
      }
      // the prompt, then 3 single steps (decode path, cache reuse, recorded step graphs on cuda)
      // give the same last row
      Context c(*m, {.kv_type = DType::F32});
      c.eval(ids.data(), int64_t(ids.size()) - 3, false, step);
      for (size_t i = ids.size() - 3; i < ids.size(); ++i) c.eval(&ids[i], 1, false, step);
      const double d = test::max_abs_err(last, step);
      INFO(fam << " on " << b << ", incremental: max |logit diff| " << d);
      CHECK(d < 1e-3);
    }
  }
}

TEST_CASE("families: generate and perplexity run and are deterministic", "[synth][families][cli]") {
  const std::string dir = test::temp_dir("families");
  const std::string text_path = dir + "/text.txt";
  {
    std::ofstream t(text_path);
    for (int i = 0; i < 40; ++i) t << "The little dog ran to the park and played with a red ball. Then it was time to go home and sleep. ";
  }
  for (const char* fam : kFamilies) {
    INFO(fam);
    const std::string path = dir + "/" + fam + ".gguf";
    auto s = test::run_cli({"model", "synth", "--arch", fam, "--dtype", "f16", "-o", path});
    INFO(s.err);
    REQUIRE(s.exit_code == 0);
    CHECK(s.out.find(find_family_preset(fam).name) != std::string::npos);
    std::string first;
    for (int run = 0; run < 2; ++run) {
      auto g = test::run_cli({"generate", "-m", path, "-p", "Once upon a time", "-n", "12", "--ignore-eos", "--json"});
      INFO(g.err);
      REQUIRE(g.exit_code == 0);
      auto j = nlohmann::json::parse(g.out);
      CHECK(j["generated_ids"].size() == 12);
      if (run == 0)
        first = j["generated_ids"].dump();
      else
        CHECK(j["generated_ids"].dump() == first);
    }
    double ppl[2];
    for (int run = 0; run < 2; ++run) {
      auto r = test::run_cli({"perplexity", "-m", path, "-f", text_path, "-c", "128", "--protocol", "llamacpp", "--json"});
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      ppl[run] = nlohmann::json::parse(r.out)["ppl"].get<double>();
    }
    CHECK(std::isfinite(ppl[0]));
    CHECK(ppl[0] > 1.0);
    CHECK(ppl[0] == ppl[1]);
  }
  // compression variants that would break an architecture's structure are refused in one line
  struct Refused {
    const char* fam;
    const char* variant;
    const char* expect;
  };
  for (auto r : {Refused{"phi3", "prune-heads:2", "prune-heads is not supported for phi3"},
                 Refused{"gemma2", "prune-layers:2", "prune-layers is not supported for gemma2"}}) {
    auto p = test::run_cli({"model", "prune", "-m", dir + "/" + r.fam + ".gguf", "--variant", r.variant, "-o", dir + "/p.gguf"});
    INFO(p.err);
    CHECK(p.exit_code == 1);
    CHECK(p.err.find(r.expect) != std::string::npos);
    CHECK(std::count(p.err.begin(), p.err.end(), '\n') == 1);
  }
  auto bad = test::run_cli({"model", "synth", "--arch", "mamba", "-o", dir + "/x.gguf"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("unknown --arch 'mamba'") != std::string::npos);
}

TEST_CASE("families: missing or inconsistent metadata is a one-line error", "[synth][families][unit]") {
  auto phi3 = GgufFile::open(test::preset_model("phi3-tiny"));
  auto llama3 = GgufFile::open(test::preset_model("llama3-tiny"));
  auto gemma2 = GgufFile::open(test::preset_model("gemma2-tiny"));
  auto qwen3 = GgufFile::open(test::preset_model("qwen3-tiny"));
  std::vector<uint8_t> buf;
  struct Case {
    const GgufFile* src;
    std::function<void(GgufWriter&)> meta;
    std::function<bool(const std::string&)> keep;
    std::string expect;
    bool load = false;  // Model::load instead of ModelConfig::from_gguf
  };
  const std::vector<Case> cases = {
      {phi3.get(), [](GgufWriter& w) { w.remove("phi3.attention.sliding_window"); }, nullptr, "'phi3.attention.sliding_window' is missing"},
      {phi3.get(), nullptr, [](const std::string& n) { return n != "output.weight"; }, "'output.weight' is missing"},
      {phi3.get(),
       [](GgufWriter& w) {
         w.set("phi3.attention.key_length", GgufValue::u32(32));
         w.set("phi3.attention.value_length", GgufValue::u32(32));
       },
       nullptr, "head_count * head dimension = embedding_length"},
      {phi3.get(), [](GgufWriter& w) { w.set("phi3.rope.dimension_count", GgufValue::u32(18)); }, nullptr, "rope.dimension_count' = 18"},
      {phi3.get(), [](GgufWriter& w) { w.set("phi3.feed_forward_length", GgufValue::u32(640)); }, nullptr,
       "'blk.0.ffn_up.weight' has shape [128, 640], expected [128, 1280]", true},
      {llama3.get(), [](GgufWriter& w) { w.set("llama.rope.scaling.type", GgufValue::string("yarn")); }, nullptr,
       "'llama.rope.scaling.type' = 'yarn' is not supported"},
      {llama3.get(), [](GgufWriter& w) { w.set("llama.rope.dimension_count", GgufValue::u32(8)); }, nullptr,
       "must equal the head dimension 16"},
      {llama3.get(), [](GgufWriter& w) { w.set("llama.attention.head_count_kv", GgufValue::u32(3)); }, nullptr,
       "not a multiple of head_count_kv 3"},
      {llama3.get(),
       [](GgufWriter& w) {
         w.set("llama.embedding_length", GgufValue::u32(64));
         w.set("llama.attention.key_length", GgufValue::u32(16));
       },
       nullptr, "'token_embd.weight' must be [64, n_vocab]"},
      {gemma2.get(), [](GgufWriter& w) { w.set("gemma2.final_logit_softcapping", GgufValue::f32(0.0f)); }, nullptr, "must be positive"},
      {gemma2.get(), nullptr, [](const std::string& n) { return n != "blk.3.post_ffw_norm.weight"; },
       "'blk.3.post_ffw_norm.weight' is missing", true},
      {qwen3.get(), nullptr, [](const std::string& n) { return n != "blk.1.attn_k_norm.weight"; }, "'blk.1.attn_k_norm.weight' is missing",
       true},
      {qwen3.get(), [](GgufWriter& w) { w.set("general.architecture", GgufValue::string("mamba")); }, nullptr,
       "architecture 'mamba' is not supported (llama, qwen2, qwen3, gemma2, phi3)"},
  };
  auto ref = create_backend("ref");
  for (const auto& c : cases) {
    INFO(c.expect);
    std::string err = error_of([&] {
      auto f = edited(*c.src, buf, c.meta, c.keep);
      if (c.load)
        Model::load(f, *ref);
      else
        ModelConfig::from_gguf(*f);
    });
    CHECK(err.find(c.expect) != std::string::npos);
    CHECK(err.find("edited.gguf") == 0);
    CHECK(err.find('\n') == std::string::npos);
  }
  // a file with its sliding window key absent but llama.cpp's Phi-3-mini-4k shape gets 2047
  auto f = edited(*phi3, buf, [](GgufWriter& w) {
    w.remove("phi3.attention.sliding_window");
    w.set("phi3.block_count", GgufValue::u32(32));
    w.set("phi3.context_length", GgufValue::u32(4096));
  });
  CHECK(ModelConfig::from_gguf(*f).n_swa == 2047);
  // linear rope scaling: factor 4 -> freq_scale 0.25; type none ignores the factor
  f = edited(*llama3, buf, [](GgufWriter& w) { w.set("llama.rope.scaling.factor", GgufValue::f32(4.0f)); });
  CHECK(ModelConfig::from_gguf(*f).rope_freq_scale == 0.25f);
  f = edited(*llama3, buf, [](GgufWriter& w) {
    w.set("llama.rope.scaling.type", GgufValue::string("none"));
    w.set("llama.rope.scaling.factor", GgufValue::f32(4.0f));
  });
  CHECK(ModelConfig::from_gguf(*f).rope_freq_scale == 1.0f);
}
