// TrainModel (engine/train/train_model.h): whole-layer and whole-model gradients against
// central finite differences in double; the f32 training forward against the engine's ref
// backend on synthesized tiny models and stories260K; AdamW, the schedule, clipping,
// accumulation; a tiny model overfitting a tiny text.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/train/distill.h"
#include "engine/train/optim.h"
#include "engine/train/train_model.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::train;

namespace {

ModelConfig tiny_config(int64_t layers) {
  ModelConfig c;
  c.arch = "llama";
  c.n_vocab = 7;
  c.n_ctx = 64;
  c.n_embd = 8;
  c.n_layer = layers;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.head_dim = 4;
  c.n_rot = 4;
  c.n_ff = 12;
  c.tied_output = false;
  return c;
}

// Largest relative error of the model's parameter gradients against central differences of
// the loss (NaN-aware). Checks every parameter of tensors whose names contain `filter`.
double model_fd_error(TrainModel<double>& m, const std::vector<int32_t>& ids, const std::vector<int32_t>& targets, const TopK* teacher,
                      double tau, double alpha) {
  const int64_t n = int64_t(ids.size());
  m.zero_grad();
  m.forward_backward(ids.data(), targets.data(), n, teacher, tau, alpha, 1.0);
  auto loss = [&] {
    std::vector<double> z;
    m.forward(ids.data(), n, z);
    return teacher ? distill_loss<double>(z.data(), n, m.config().n_vocab, *teacher, targets.data(), tau, alpha, 1.0, nullptr)
                   : cross_entropy<double>(z.data(), n, m.config().n_vocab, targets.data(), 1.0, nullptr);
  };
  double worst = 0;
  const double h = 1e-5;
  for (size_t t = 0; t < m.params().size(); ++t) {
    auto& w = m.params()[t].w;
    const auto& g = m.grads()[t];
    for (size_t i = 0; i < w.size(); ++i) {
      const double keep = w[i];
      w[i] = keep + h;
      const double lp = loss();
      w[i] = keep - h;
      const double lm = loss();
      w[i] = keep;
      const double num = (lp - lm) / (2 * h), diff = std::fabs(num - g[i]);
      if (!std::isfinite(diff)) return INFINITY;
      if (diff > 1e-9) worst = std::max(worst, diff / (std::fabs(num) + std::fabs(g[i])));
    }
  }
  return worst;
}

double max_abs_diff(const float* a, const float* b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!std::isfinite(d)) return INFINITY;
    worst = std::max(worst, d);
  }
  return worst;
}

// Training forward (f32) vs the ref backend's logits (f32 KV cache) for the same tokens.
void check_against_ref(const std::string& path, const std::vector<int32_t>& ids, double tol) {
  auto file = GgufFile::open(path);
  TrainModel<float> tm = TrainModel<float>::from_gguf(*file);
  std::vector<float> got;
  tm.forward(ids.data(), int64_t(ids.size()), got);
  auto ref = create_backend("ref");
  auto model = Model::load(file, *ref);
  ContextOptions co;
  co.n_ctx = 64;
  co.kv_type = DType::F32;
  Context ctx(*model, co);
  std::vector<float> want;
  ctx.eval(ids.data(), int64_t(ids.size()), true, want);
  REQUIRE(want.size() == got.size());
  double scale = 0;
  for (float v : want) scale = std::max(scale, double(std::fabs(v)));
  const double err = max_abs_diff(got.data(), want.data(), want.size());
  INFO(path << ": max |train - ref| = " << err << ", max |logit| = " << scale);
  CHECK(scale > 0.1);  // the logits are not all ~0
  CHECK(err < tol);
}

}  // namespace

TEST_CASE("train model: one layer's gradients match finite differences", "[train][unit]") {
  TrainModel<double> m = TrainModel<double>::random(tiny_config(1), 1);
  const std::vector<int32_t> ids = {1, 4, 2, 6, 0}, targets = {4, 2, 6, 0, 3};
  CHECK(model_fd_error(m, ids, targets, nullptr, 1.0, 0.0) < 1e-5);
}

TEST_CASE("train model: whole-model gradients match finite differences (CE and distillation)", "[train][unit]") {
  const std::vector<int32_t> ids = {1, 4, 2, 6, 0, 5}, targets = {4, 2, 6, 0, 5, -1};
  SECTION("adjacent-pair rope, separate output, cross-entropy") {
    TrainModel<double> m = TrainModel<double>::random(tiny_config(2), 2);
    CHECK(model_fd_error(m, ids, targets, nullptr, 1.0, 0.0) < 1e-5);
  }
  SECTION("NeoX rope, q/k norms, tied output, rope_freqs, 2 KV heads") {
    ModelConfig c = tiny_config(2);
    c.arch = "qwen3";
    c.rope_style = RopeStyle::NeoX;
    c.qk_norm = true;
    c.tied_output = true;
    c.rope_freqs = true;
    c.n_head_kv = 2;
    TrainModel<double> m = TrainModel<double>::random(c, 3);
    CHECK(model_fd_error(m, ids, targets, nullptr, 1.0, 0.0) < 1e-5);
  }
  SECTION("distillation loss against a teacher's top-3") {
    TrainModel<double> teacher = TrainModel<double>::random(tiny_config(2), 4);
    std::vector<double> tz;
    teacher.forward(ids.data(), int64_t(ids.size()), tz);
    std::vector<float> tzf(tz.begin(), tz.end());
    const TopK t = top_k(tzf.data(), int64_t(ids.size()), 7, 3);
    TrainModel<double> m = TrainModel<double>::random(tiny_config(1), 5);
    CHECK(model_fd_error(m, ids, targets, &t, 2.0, 0.7) < 1e-5);
  }
}

TEST_CASE("train model: unsupported architectures are refused with the file's name", "[train][unit]") {
  ModelConfig c = tiny_config(1);
  c.attn_softcap = 50;
  CHECK_THROWS_WITH(TrainModel<float>::random(c, 1), Catch::Contains("soft-capping"));
}

TEST_CASE("train model: f32 training forward equals the ref backend (llama3-tiny, qwen3-tiny)", "[train][synth]") {
  const std::vector<int32_t> ids = {1, 450, 3681, 17, 29871, 100, 7, 2000, 31999, 5, 12, 900};
  check_against_ref(test::preset_model("llama3-tiny"), ids, 2e-4);
  check_against_ref(test::preset_model("qwen3-tiny"), ids, 2e-4);
}

TEST_CASE("train model: f32 training forward equals the ref backend on stories260K", "[train][shared]") {
  if (test::skip_without_shared()) return;
  const std::vector<int32_t> ids = {1, 403, 407, 261, 378, 429, 356, 274, 262, 286, 400, 13, 1, 499, 65, 300};
  check_against_ref(test::shared_path("models/stories260K.gguf"), ids, 2e-4);
}

TEST_CASE("train optim: schedule, clipping, AdamW's first step, accumulation", "[train][unit]") {
  Schedule s{1e-2, 1e-3, 10, 110};
  CHECK(std::fabs(s.at(0) - 1e-3) < 1e-15);
  CHECK(std::fabs(s.at(9) - 1e-2) < 1e-15);
  CHECK(std::fabs(s.at(60) - (1e-2 + 1e-3) / 2) < 1e-12);
  CHECK(std::fabs(s.at(110) - 1e-3) < 1e-15);
  CHECK(s.at(30) > s.at(31));

  std::vector<std::vector<double>> g = {{3.0, 0.0}, {4.0}};
  CHECK(clip_grad_norm(g, 10.0) == Approx(5.0));
  CHECK(g[0][0] == 3.0);  // under the limit: untouched
  CHECK(clip_grad_norm(g, 1.0) == Approx(5.0));
  CHECK(g[0][0] == Approx(0.6));
  CHECK(g[1][0] == Approx(0.8));
  std::vector<std::vector<double>> bad = {{NAN}};
  CHECK(std::isnan(clip_grad_norm(bad, 1.0)));

  // AdamW's bias-corrected first step moves each weight by lr * sign(g) (+ decay on matrices)
  std::vector<ParamTensor<double>> p = {{"m", {2, 2}, {1.0, 1.0, 1.0, 1.0}}, {"n", {2}, {1.0, 1.0}}};
  std::vector<std::vector<double>> pg = {{0.5, -2.0, 1e-3, 0.0}, {3.0, -3.0}};
  AdamW<double> opt({0.9, 0.999, 1e-12, 0.1});
  opt.step(p, pg, 0.01);
  CHECK(p[0].w[0] == Approx(1.0 - 0.01 * (1.0 + 0.1)));
  CHECK(p[0].w[1] == Approx(1.0 + 0.01 * (1.0 - 0.1)));
  CHECK(p[0].w[3] == Approx(1.0 - 0.01 * 0.1));  // zero gradient: decay only
  CHECK(p[1].w[0] == Approx(0.99));              // norms: no decay
  CHECK(p[1].w[1] == Approx(1.01));

  // accumulation: two micro-batches of weight 1/2 give the mean of their gradients
  TrainModel<double> m = TrainModel<double>::random(tiny_config(1), 6);
  const std::vector<int32_t> a = {1, 2, 3, 4}, ta = {2, 3, 4, 5}, b = {6, 5, 0}, tb = {5, 0, 1};
  m.zero_grad();
  m.forward_backward(a.data(), ta.data(), 4, nullptr, 1, 0, 1.0);
  auto ga = m.grads();
  m.zero_grad();
  m.forward_backward(b.data(), tb.data(), 3, nullptr, 1, 0, 1.0);
  auto gb = m.grads();
  m.zero_grad();
  m.forward_backward(a.data(), ta.data(), 4, nullptr, 1, 0, 0.5);
  m.forward_backward(b.data(), tb.data(), 3, nullptr, 1, 0, 0.5);
  double worst = 0;
  bool nonzero = false;
  for (size_t t = 0; t < ga.size(); ++t)
    for (size_t i = 0; i < ga[t].size(); ++i) {
      const double d = std::fabs(m.grads()[t][i] - 0.5 * (ga[t][i] + gb[t][i]));
      worst = std::isfinite(d) ? std::max(worst, d) : INFINITY;
      nonzero = nonzero || ga[t][i] != 0.0;
    }
  CHECK(nonzero);
  CHECK(worst < 1e-12);
}

TEST_CASE("train smoke: a tiny model overfits a tiny text (loss near zero)", "[train][unit]") {
  ModelConfig c = tiny_config(2);
  c.n_vocab = 16;
  c.n_embd = 32;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim = 8;
  c.n_rot = 8;
  c.n_ff = 64;
  TrainModel<float> m = TrainModel<float>::random(c, 7, 0.1, 0.0);
  std::mt19937 rng(11);
  std::vector<int32_t> text(33);
  for (int32_t& t : text) t = int32_t(rng() % 16);
  const std::vector<int32_t> ids(text.begin(), text.end() - 1), targets(text.begin() + 1, text.end());
  const int64_t steps = 150;
  Schedule s{3e-2, 1e-3, 10, steps};
  AdamW<float> opt({0.9, 0.99, 1e-8, 0.0});
  double first = 0, last = 0;
  for (int64_t step = 0; step < steps; ++step) {
    m.zero_grad();
    // two micro-batches (halves of the text, the second at positions 0.. too)
    const int64_t h = 16;
    double loss = m.forward_backward(ids.data(), targets.data(), 32, nullptr, 1, 0, 0.5);
    loss = 0.5 * loss + 0.5 * m.forward_backward(ids.data() + h, targets.data() + h, 32 - h, nullptr, 1, 0, 0.5);
    if (step == 0) first = loss;
    last = loss;
    const double norm = clip_grad_norm(m.grads(), 1.0);
    REQUIRE(std::isfinite(norm));
    opt.step(m.params(), m.grads(), s.at(step));
  }
  INFO("loss " << first << " -> " << last);
  CHECK(first > 2.0);  // ~ln 16 at the start
  CHECK(last < 0.05);
}

TEST_CASE("train distill: a damaged student moves toward its teacher; pruned zeros stay zero", "[train][unit]") {
  ModelConfig c = tiny_config(2);
  c.n_vocab = 16;
  c.n_embd = 16;
  c.head_dim = 8;
  c.n_rot = 8;
  TrainModel<float> teacher = TrainModel<float>::random(c, 8, 0.3, 0.1);
  TrainModel<float> student = teacher;
  auto& wq = student.params()[size_t(student.layers[0].wq)].w;
  for (size_t i = 0; i < wq.size(); i += 2) wq[i] = 0.0f;                          // "prune" half of one matrix
  for (float& w : student.params()[size_t(student.layers[1].down)].w) w *= -1.0f;  // and damage another
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> train, held;
  for (int i = 0; i < 40; ++i) {
    std::vector<int32_t> s(13);
    for (int32_t& t : s) t = int32_t(rng() % 16);
    (i < 32 ? train : held).push_back(s);
  }
  DistillOptions o;
  o.steps = 150;
  o.batch = 2;
  o.lr = 1e-2;
  o.top_k = 16;  // the whole vocabulary: exact KL
  o.alpha = 1.0;
  const DistillResult r = distill(teacher, student, train, held, o, /*frozen_zeros=*/true);
  INFO("held-out KLD " << r.kld_before << " -> " << r.kld_after);
  CHECK(r.kld_before > 0.01);
  CHECK(r.kld_after < 0.5 * r.kld_before);
  REQUIRE(r.losses.size() == 150);
  CHECK(r.tokens == 150 * 2 * 12);
  bool zeros_kept = true, others_moved = false;
  const auto& tq = teacher.params()[size_t(teacher.layers[0].wq)].w;
  for (size_t i = 0; i < wq.size(); ++i) {
    if (i % 2 == 0)
      zeros_kept = zeros_kept && wq[i] == 0.0f;
    else
      others_moved = others_moved || wq[i] != tq[i];
  }
  CHECK(zeros_kept);
  CHECK(others_moved);
}
