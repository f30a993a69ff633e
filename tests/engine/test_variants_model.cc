// Compression variants on the real stories260K model (../shared): layer pruning against the
// model with those layers skipped, files written by `model quantize|prune` against the same
// variant applied in memory, and the fidelity / accuracy ordering the variants must show.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/backends/backend.h"
#include "engine/compress/apply.h"
#include "engine/compress/fidelity.h"
#include "engine/compress/prune.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "evals/engine_lm.h"
#include "evals/task.h"
#include "harness/model_loader.h"
#include "harness/variants.h"
#include "tests/test_support.h"
#include "tests/engine/backend_test_util.h"

using namespace sb;
using namespace sb::compress;
using sb::test::max_abs_err;

namespace {

std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& ids) {
  Context ctx(m, {.n_ctx = 128, .kv_type = DType::F32});
  std::vector<float> logits;
  ctx.eval(ids.data(), int64_t(ids.size()), true, logits);
  return logits;
}

struct Stories {
  std::shared_ptr<const GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
  std::string calib;
};

Stories stories() {
  Stories s;
  s.file = GgufFile::open(test::shared_path("models/stories260K.gguf"));
  s.tok = Tokenizer::from_gguf(*s.file);
  s.calib = cli::read_calibration(cli::default_calibration_path());
  return s;
}

}  // namespace

TEST_CASE("variants: stories260K layer pruning equals skipping the removed layers", "[variants][prune][shared]") {
  if (test::skip_without_shared()) return;
  Stories st = stories();
  auto backend = create_backend(cli::default_backend(), {.threads = 2});
  Calibration calib{backend.get(), st.tok.get(), st.calib};
  auto vm = apply_variant(st.file, parse_variant("prune-layers:2"), &calib);
  REQUIRE(vm.report.layer_similarity.size() == 5);
  for (double v : vm.report.layer_similarity) CHECK((v > -1.0 && v <= 1.0 + 1e-9));
  CHECK(vm.report.removed_layers == layers_to_remove(vm.report.layer_similarity, 2));
  const ModelConfig pc = ModelConfig::from_gguf(*vm.file);
  CHECK(pc.n_layer == 3);
  auto pruned = load_variant(vm, *backend);
  auto base = Model::load(st.file, *backend);
  std::vector<int64_t> kept;
  for (int64_t l = 0; l < 5; ++l)
    if (std::find(vm.report.removed_layers.begin(), vm.report.removed_layers.end(), l) == vm.report.removed_layers.end()) kept.push_back(l);
  base->set_active_layers(kept);
  const auto ids = st.tok->encode("Once upon a time, there was a little dog named Max. He liked to", true);
  const double d = max_abs_err(logits_of(*base, ids), logits_of(*pruned, ids));
  INFO("max |logit diff| " << d);
  CHECK(d < 1e-5);
  CHECK(pruned->weight_bytes() < base->weight_bytes());
}

TEST_CASE("variants: stories260K variant files read back like the in-memory variant", "[variants][shared]") {
  if (test::skip_without_shared()) return;
  Stories st = stories();
  auto backend = create_backend("ref");
  const std::string dir = test::temp_dir("variants");
  const auto ids = st.tok->encode("Lily wanted to play with her ball.", true);
  for (const char* spec : {"q8_0", "q4_0+prune-heads:2", "bf16+prune24"}) {
    auto v = parse_variant(spec);
    const std::string path = dir + "/" + v.name() + ".gguf";
    auto rep = write_variant(st.file, v, nullptr, path);
    auto written = Model::load(path, *backend);
    auto mem = load_variant(apply_variant(st.file, v, nullptr), *backend);
    INFO(spec);
    CHECK(max_abs_err(logits_of(*written, ids), logits_of(*mem, ids)) == 0.0);
    CHECK(written->file().get_string("sparkbench.variant", "") == v.name());
    if (v.weights == WeightKind::Q8_0 || v.weights == WeightKind::Q4_0) {
      // ffn_down rows have 172 values: not whole 32-value blocks, stored as f16 like llama-quantize
      CHECK(written->file().tensor("blk.0.ffn_down.weight")->type == GgmlType::F16);
      CHECK(written->file().tensor("blk.0.ffn_up.weight")->type == *v.gguf_type());
      // with 2 of 8 heads gone, attn_output rows hold 6 x 8 = 48 values: f16 as well
      CHECK(rep.fallback.size() == (v.prune_heads ? 10u : 5u));
    }
  }
}

TEST_CASE("variants: stories260K fidelity orders the variants and stories accuracy follows", "[variants][fidelity][shared]") {
  if (test::skip_without_shared()) return;
  Stories st = stories();
  auto backend = create_backend(cli::default_backend(), {.threads = 2});
  auto base = Model::load(st.file, *backend);
  Context bctx(*base, {.n_ctx = 256, .kv_type = DType::F32});
  const auto ref = fidelity_reference(bctx, *st.tok, st.calib, 128);
  REQUIRE(ref.n_scored() > 500);
  Suite suite = load_suite("stories");
  auto accuracy = [&](const Model& m, const std::string& name) {
    EngineLM lm(m, *st.tok, {.n_ctx = 256, .kv_type = DType::F32}, {.variant = name});
    auto task = Task::create(suite, TaskOptions{});
    std::vector<ItemResult> rows;
    for (size_t i = 0; i < task->size(); ++i)
      for (auto& r : task->run(i, lm)) rows.push_back(r);
    for (const auto& mr : task->aggregate(rows))
      if (mr.metric == "acc") return mr.value;
    FAIL("no acc metric");
    return 0.0;
  };
  std::map<std::string, Fidelity> f;
  std::map<std::string, double> acc;
  for (const char* spec : {"base", "bf16", "q8_0", "int8", "q4_0", "prune:0.5"}) {
    auto vm = apply_variant(st.file, parse_variant(spec), nullptr);
    auto m = load_variant(vm, *backend);
    Context ctx(*m, {.n_ctx = 256, .kv_type = DType::F32});
    f[spec] = measure_fidelity(ref, ctx, *st.tok, st.calib);
    if (std::string(spec) == "base" || std::string(spec) == "q8_0" || std::string(spec) == "prune:0.5") acc[spec] = accuracy(*m, spec);
    std::printf("fidelity %-10s kld_mean %.6f p99 %.5f same_top1 %.2f%% ppl_ratio %.4f rms_dp %.3f%%%s\n", spec, f[spec].kld_mean,
                f[spec].kld_p99, f[spec].same_top1, f[spec].ppl_ratio, f[spec].rms_dp,
                acc.count(spec) ? (" stories acc " + std::to_string(acc[spec])).c_str() : "");
  }
  // the baseline against itself: nothing differs
  CHECK(f["base"].kld_max == Approx(0).margin(1e-9));
  CHECK(f["base"].same_top1 == 100.0);
  CHECK(f["base"].ppl_ratio == Approx(1.0));
  // closer variants first: bf16 and q8_0 before q4_0, heavy pruning farthest
  CHECK(f["bf16"].kld_mean < f["q4_0"].kld_mean);
  CHECK(f["q8_0"].kld_mean < f["q4_0"].kld_mean);
  CHECK(f["int8"].kld_mean < f["q4_0"].kld_mean);
  CHECK(f["q4_0"].kld_mean < f["prune:0.5"].kld_mean);
  CHECK(f["q8_0"].same_top1 > f["q4_0"].same_top1);
  CHECK(f["q4_0"].same_top1 > f["prune:0.5"].same_top1);
  CHECK(f["q8_0"].rms_dp < f["q4_0"].rms_dp);
  CHECK(f["q4_0"].ppl_ratio < f["prune:0.5"].ppl_ratio);
  for (const auto& [k, v] : f) {
    CHECK(v.kld_median <= v.kld_p99);
    CHECK(v.kld_p99 <= v.kld_max);
    CHECK(v.ppl_delta == Approx(v.ppl - v.ppl_base));
  }
  // accuracy follows: the near-lossless variant keeps the stories score, heavy pruning loses it
  CHECK(std::fabs(acc["q8_0"] - acc["base"]) < 0.05);
  CHECK(acc["prune:0.5"] < acc["q8_0"] - 0.1);
}
