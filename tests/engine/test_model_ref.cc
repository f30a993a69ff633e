// The reference backend against llama.cpp's outputs for stories260K (../shared/reference).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/backends/backend.h"
#include "engine/model/model.h"
#include "engine/model/plg.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return int32_t(best);
}

// Replays a PLG dump's tokens (prompt as one batch, then one token per step) and returns the
// largest absolute logit difference over all rows.
double replay_max_diff(Context& ctx, const PlgDump& ref) {
  const int64_t V = ref.n_vocab;
  std::vector<float> logits;
  ctx.eval(ref.tokens.data(), ref.n_prompt, true, logits);
  double worst = 0;
  for (uint32_t r = 0; r < ref.n_rows(); ++r) {
    if (r >= ref.n_prompt) {
      ctx.eval(&ref.tokens[r], 1, false, logits);
    }
    const float* ours = r < ref.n_prompt ? logits.data() + size_t(r) * V : logits.data();
    const double d = test::max_abs_err(std::vector<float>(ref.row(r), ref.row(r) + V), std::vector<float>(ours, ours + V));
    worst = std::isfinite(d) ? std::max(worst, d) : d;  // NaN-aware: a NaN row makes it infinite for good
    if (!std::isfinite(worst)) break;
  }
  return worst;
}

}  // namespace

TEST_CASE("model: every backend reproduces llama.cpp greedy ids for stories260K", "[model][shared]") {
  if (test::skip_without_shared()) return;
  for (const auto& name : available_backends()) {
    auto backend = create_backend(name, {.threads = 2});
    auto model = Model::load(test::shared_path("models/stories260K.gguf"), *backend);
    std::ifstream in(test::shared_path("reference/stories260k/greedy.json"));
    auto j = nlohmann::json::parse(in);
    for (const auto& c : j["cases"]) {
      Context ctx(*model, {.kv_type = DType::F32});
      std::vector<int32_t> ids = c["prompt_ids"].get<std::vector<int32_t>>();
      std::vector<float> logits;
      ctx.eval(ids.data(), int64_t(ids.size()), false, logits);
      std::vector<int32_t> got;
      for (int i = 0; i < 64; ++i) {
        int32_t next = argmax(logits.data(), model->config().n_vocab);
        got.push_back(next);
        ctx.eval(&next, 1, false, logits);
      }
      INFO(name << ": " << c["prompt"].get<std::string>());
      CHECK(got == c["greedy_ids"].get<std::vector<int32_t>>());
    }
  }
}

TEST_CASE("model: every backend's logits match llama.cpp dumps", "[model][shared]") {
  if (test::skip_without_shared()) return;
  for (const auto& name : available_backends()) {
    auto backend = create_backend(name, {.threads = 2});
    auto model = Model::load(test::shared_path("models/stories260K.gguf"), *backend);
    struct Case {
      const char* file;
      DType kv;
      double tol;
    };
    for (auto c : {Case{"once_upon_a_time.kvf32.plg", DType::F32, 1e-4}, Case{"lily_wanted_to.kvf32.plg", DType::F32, 1e-4},
                   Case{"once_upon_a_time.kvf16.plg", DType::F16, 0.03}}) {
      PlgDump ref = read_plg(test::shared_path(std::string("reference/stories260k/") + c.file));
      Context ctx(*model, {.kv_type = c.kv});
      double worst = replay_max_diff(ctx, ref);
      INFO(name << " " << c.file << ": max |diff| = " << worst);
      CHECK(worst <= c.tol);
      std::printf("%s %s: max |logit diff| vs llama.cpp = %.3g\n", name.c_str(), c.file, worst);
    }
  }
}
