#include "engine/train/distill.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/train/optim.h"

namespace sb::train {

std::vector<std::vector<int32_t>> sample_sequences(const Model& teacher, int64_t n, int64_t len, int32_t bos,
                                                   uint64_t seed) {
  if (len < 2) fail("distill: sequences need at least 2 tokens, got ", len);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int64_t V = teacher.config().n_vocab;
  std::vector<std::vector<int32_t>> out;
  std::vector<float> logits;
  std::vector<double> p(static_cast<size_t>(V));
  for (int64_t s = 0; s < n; ++s) {
    ContextOptions co;
    co.n_ctx = len;
    co.kv_type = DType::F32;
    Context ctx(teacher, co);
    std::vector<int32_t> seq = {bos};
    while (int64_t(seq.size()) < len) {
      ctx.eval(&seq.back(), 1, false, logits);
      double mx = -INFINITY, sum = 0;
      for (float z : logits) mx = std::max(mx, double(z));
      for (int64_t v = 0; v < V; ++v) sum += (p[size_t(v)] = std::exp(double(logits[size_t(v)]) - mx));
      double r = u(rng) * sum;
      int32_t pick = int32_t(V - 1);
      for (int64_t v = 0; v < V; ++v) {
        r -= p[size_t(v)];
        if (r <= 0) {
          pick = int32_t(v);
          break;
        }
      }
      seq.push_back(pick);
    }
    out.push_back(std::move(seq));
  }
  return out;
}

double heldout_kld(TrainModel<float>& teacher, TrainModel<float>& student, const std::vector<std::vector<int32_t>>& seqs) {
  const int64_t V = teacher.config().n_vocab;
  if (student.config().n_vocab != V) fail("distill: student vocabulary ", student.config().n_vocab, " != teacher's ", V);
  double total = 0;
  int64_t count = 0;
  std::vector<float> zt, zs, lt, ls;
  for (const auto& s : seqs) {
    const int64_t n = int64_t(s.size()) - 1;
    teacher.forward(s.data(), n, zt);
    student.forward(s.data(), n, zs);
    lt.resize(zt.size());
    ls.resize(zs.size());
    log_softmax(zt.data(), n, V, lt.data());
    log_softmax(zs.data(), n, V, ls.data());
    for (int64_t r = 0; r < n; ++r) {
      double kl = 0;
      for (int64_t v = 0; v < V; ++v) {
        const double a = double(lt[size_t(r * V + v)]);
        kl += std::exp(a) * (a - double(ls[size_t(r * V + v)]));
      }
      total += kl;
      ++count;
    }
  }
  return count ? total / double(count) : 0.0;
}

DistillResult distill(TrainModel<float>& teacher, TrainModel<float>& student,
                      const std::vector<std::vector<int32_t>>& train, const std::vector<std::vector<int32_t>>& heldout,
                      const DistillOptions& o, bool frozen_zeros) {
  if (train.empty()) fail("distill: no training sequences");
  if (o.steps < 1 || o.batch < 1) fail("distill: steps and batch must be >= 1");
  if (o.alpha < 0 || o.alpha > 1) fail("distill: alpha must be in [0, 1], got ", o.alpha);
  const int64_t V = teacher.config().n_vocab;
  if (student.config().n_vocab != V) fail("distill: student vocabulary ", student.config().n_vocab, " != teacher's ", V);
  const int64_t k = std::min<int64_t>(o.top_k, V);
  DistillResult res;
  res.kld_before = heldout_kld(teacher, student, heldout);
  // teacher top-k of every training sequence, once
  std::vector<TopK> tk;
  std::vector<float> z;
  for (const auto& s : train) {
    teacher.forward(s.data(), int64_t(s.size()) - 1, z);
    tk.push_back(top_k(z.data(), int64_t(s.size()) - 1, V, k));
  }
  std::vector<std::vector<uint8_t>> zero_mask;
  if (frozen_zeros)
    for (const auto& p : student.params()) {
      std::vector<uint8_t> m(p.w.size(), 0);
      if (p.matrix() && p.name.rfind("blk.", 0) == 0)
        for (size_t i = 0; i < p.w.size(); ++i) m[i] = p.w[i] == 0.0f;
      zero_mask.push_back(std::move(m));
    }
  Schedule sched{o.lr, o.lr * 0.1, std::min(o.warmup, o.steps / 4), o.steps};
  AdamW<float> opt({0.9, 0.999, 1e-8, o.weight_decay});
  std::mt19937_64 rng(o.seed ^ 0x9e3779b97f4a7c15ull);
  student.set_recompute(o.recompute);
  for (int64_t step = 0; step < o.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    student.zero_grad();
    double loss = 0;
    for (int64_t b = 0; b < o.batch; ++b) {
      const size_t i = size_t(rng() % train.size());
      const auto& s = train[i];
      const int64_t n = int64_t(s.size()) - 1;
      loss += student.forward_backward(s.data(), s.data() + 1, n, &tk[i], o.temperature, o.alpha,
                                       1.0 / double(o.batch)) /
              double(o.batch);
      res.tokens += n;
      res.train_flop += double(train_flops(student.config(), n));
    }
    const double norm = clip_grad_norm(student.grads(), o.clip);
    if (!std::isfinite(norm) || !std::isfinite(loss)) fail("distill: loss or gradient is not finite at step ", step + 1);
    const double lr = sched.at(step);
    opt.step(student.params(), student.grads(), lr);
    for (size_t t = 0; t < zero_mask.size(); ++t)
      for (size_t i = 0; i < zero_mask[t].size(); ++i)
        if (zero_mask[t][i]) student.params()[t].w[i] = 0.0f;
    res.train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.losses.push_back(loss);
    if (o.progress) o.progress(step + 1, loss, lr);
    if (o.eval_every > 0 && (step + 1) % o.eval_every == 0 && step + 1 < o.steps) {
      res.evals.push_back({step + 1, heldout_kld(teacher, student, heldout)});
      if (o.on_eval) o.on_eval(step + 1, res.evals.back().second);
    }
  }
  res.kld_after = heldout_kld(teacher, student, heldout);
  return res;
}

void write_f32_gguf(const TrainModel<float>& m, const GgufFile& meta, const std::string& path) {
  GgufWriter w;
  w.copy_metadata(meta);
  w.set("general.file_type", GgufValue::u32(0));  // LLAMA_FTYPE_ALL_F32
  for (const auto& p : m.params()) {
    std::vector<uint8_t> bytes(p.w.size() * sizeof(float));
    std::memcpy(bytes.data(), p.w.data(), bytes.size());
    w.add_tensor(p.name, GgmlType::F32, p.ne, std::move(bytes));
  }
  if (!m.rope_freqs.empty()) {
    std::vector<uint8_t> bytes(m.rope_freqs.size() * sizeof(float));
    std::memcpy(bytes.data(), m.rope_freqs.data(), bytes.size());
    w.add_tensor("rope_freqs.weight", GgmlType::F32, {int64_t(m.rope_freqs.size())}, std::move(bytes));
  }
  w.write(path);
}

}  // namespace sb::train
