#include "engine/train/distill.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "engine/core/error.h"
#include "engine/core/sha256.h"
#include "engine/gguf/gguf.h"
#include "engine/train/checkpoint.h"
#include "engine/train/optim.h"

namespace sb::train {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The training sequence of micro-batch b of step `step`: a pure function, so a resumed run
// draws what the unbroken run drew without any saved RNG state.
size_t batch_index(uint64_t seed, int64_t step, int64_t batch, int64_t b, size_t n) {
  return size_t(splitmix64(splitmix64(seed ^ 0x5851f42d4c957f2dull) + uint64_t(step) * uint64_t(batch) + uint64_t(b)) % n);
}

std::string hash_params(const TrainModel<float>& m) {
  std::string all;
  for (const auto& p : m.params()) {
    all += p.name;
    for (int64_t d : p.ne) all += ":" + std::to_string(d);
    all += "=" + sha256_hex(std::string_view(reinterpret_cast<const char*>(p.w.data()), p.w.size() * sizeof(float))) + ";";
  }
  all +=
      "rope_freqs=" + sha256_hex(std::string_view(reinterpret_cast<const char*>(m.rope_freqs.data()), m.rope_freqs.size() * sizeof(float)));
  return sha256_hex(all).substr(0, 16);
}

std::string hash_seqs(const std::vector<std::vector<int32_t>>& seqs) {
  std::string all;
  for (const auto& s : seqs) {
    const uint64_t n = s.size();
    all.append(reinterpret_cast<const char*>(&n), sizeof n);
    all.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(int32_t));
  }
  return sha256_hex(all).substr(0, 16);
}

std::string num(double x) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", x);
  return b;
}

// The fingerprint of a run: everything that changes its result (checkpoint.h check_same_run).
std::string run_settings(const TrainModel<float>& teacher, const TrainModel<float>& student, const std::vector<std::vector<int32_t>>& train,
                         const std::vector<std::vector<int32_t>>& heldout, const DistillOptions& o, bool frozen_zeros) {
  return cat("format=distill-1;steps=", o.steps, ";seq=", o.seq, ";batch=", o.batch, ";lr=", num(o.lr), ";warmup=", o.warmup,
             ";temperature=", num(o.temperature), ";alpha=", num(o.alpha), ";top_k=", o.top_k, ";clip=", num(o.clip),
             ";weight_decay=", num(o.weight_decay), ";seed=", o.seed, ";eval_every=", o.eval_every,
             ";ops=", student.backend() == TrainBackend::Cpu ? "cpu" : "ref", ";frozen_zeros=", frozen_zeros ? 1 : 0,
             ";student_params=", student.n_params(), ";student=", hash_params(student), ";teacher=", hash_params(teacher),
             ";train_seqs=", train.size(), ";train=", hash_seqs(train), ";heldout_seqs=", heldout.size(), ";heldout=", hash_seqs(heldout));
}

Checkpoint make_checkpoint(const std::string& settings, int64_t step, const DistillResult& res, const TrainModel<float>& student,
                           const AdamW<float>& opt) {
  Checkpoint c;
  c.settings = settings;
  c.step = step;
  c.tokens = res.tokens;
  c.kld_before = res.kld_before;
  c.losses = res.losses;
  c.evals = res.evals;
  c.adam_steps = opt.steps();
  for (size_t i = 0; i < student.params().size(); ++i) {
    CheckpointParam p;
    p.name = student.params()[i].name;
    p.w = student.params()[i].w;
    if (i < opt.first_moments().size()) {
      p.m = opt.first_moments()[i];
      p.v = opt.second_moments()[i];
    }
    c.params.push_back(std::move(p));
  }
  return c;
}

// Puts a checkpoint's parameters and optimizer state back; `path` names the file in errors.
void restore_checkpoint(Checkpoint&& c, const std::string& path, TrainModel<float>& student, AdamW<float>& opt, DistillResult& res) {
  auto& ps = student.params();
  if (c.params.size() != ps.size()) fail(path, ": ", c.params.size(), " parameter tensors, the student has ", ps.size());
  std::vector<std::vector<double>> m, v;
  for (size_t i = 0; i < ps.size(); ++i) {
    auto& cp = c.params[i];
    if (cp.name != ps[i].name || cp.w.size() != ps[i].w.size())
      fail(path, ": parameter ", i, " is '", cp.name, "' of ", cp.w.size(), " values, the student's is '", ps[i].name, "' of ",
           ps[i].w.size());
    const bool has_moments = !cp.m.empty() || !cp.v.empty();
    if (has_moments && (cp.m.size() != cp.w.size() || cp.v.size() != cp.w.size()))
      fail(path, ": parameter '", cp.name, "' has ", cp.w.size(), " values but ", cp.m.size(), "/", cp.v.size(), " moments");
    if (has_moments != (c.adam_steps > 0)) fail(path, ": parameter '", cp.name, "': moments do not match AdamW step count ", c.adam_steps);
    ps[i].w = std::move(cp.w);
    if (has_moments) {
      m.push_back(std::move(cp.m));
      v.push_back(std::move(cp.v));
    }
  }
  opt.restore(c.adam_steps, std::move(m), std::move(v));
  res.kld_before = c.kld_before;
  res.losses = std::move(c.losses);
  res.evals = std::move(c.evals);
  res.tokens = c.tokens;
  res.resumed_from = c.step;
}

}  // namespace

std::vector<std::vector<int32_t>> sample_sequences(const Model& teacher, int64_t n, int64_t len, int32_t bos, uint64_t seed) {
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

DistillResult distill(TrainModel<float>& teacher, TrainModel<float>& student, const std::vector<std::vector<int32_t>>& train,
                      const std::vector<std::vector<int32_t>>& heldout, const DistillOptions& o, bool frozen_zeros) {
  if (train.empty()) fail("distill: no training sequences");
  if (o.steps < 1 || o.batch < 1) fail("distill: steps and batch must be >= 1");
  if (o.alpha < 0 || o.alpha > 1) fail("distill: alpha must be in [0, 1], got ", o.alpha);
  const int64_t V = teacher.config().n_vocab;
  if (student.config().n_vocab != V) fail("distill: student vocabulary ", student.config().n_vocab, " != teacher's ", V);
  const int64_t k = std::min<int64_t>(o.top_k, V);
  if (o.checkpoint_every < 0) fail("distill: checkpoint_every must be >= 0, got ", o.checkpoint_every);
  DistillResult res;
  std::vector<std::vector<uint8_t>> zero_mask;  // from the initial student, before any resume
  if (frozen_zeros)
    for (const auto& p : student.params()) {
      std::vector<uint8_t> m(p.w.size(), 0);
      if (p.matrix() && p.name.rfind("blk.", 0) == 0)
        for (size_t i = 0; i < p.w.size(); ++i) m[i] = p.w[i] == 0.0f;
      zero_mask.push_back(std::move(m));
    }
  Schedule sched{o.lr, o.lr * 0.1, std::min(o.warmup, o.steps / 4), o.steps};
  AdamW<float> opt({0.9, 0.999, 1e-8, o.weight_decay});
  std::string settings;
  int64_t start = 0;
  if (!o.checkpoint_dir.empty()) {
    settings = run_settings(teacher, student, train, heldout, o, frozen_zeros);
    if (auto saved = load_latest_checkpoint(o.checkpoint_dir)) {
      auto& [c, path] = *saved;
      check_same_run(path, c.settings, settings);
      if (c.step > o.steps) fail(path, ": ", c.step, " steps done, more than the ", o.steps, " asked for");
      start = c.step;
      restore_checkpoint(std::move(c), path, student, opt, res);
      std::fprintf(stderr, "distill: resuming from step %lld of %lld (%s)\n", (long long)start, (long long)o.steps, path.c_str());
    }
  }
  if (start == 0) res.kld_before = heldout_kld(teacher, student, heldout);
  // teacher top-k of every training sequence, once
  std::vector<TopK> tk;
  std::vector<float> z;
  if (start < o.steps)
    for (const auto& s : train) {
      teacher.forward(s.data(), int64_t(s.size()) - 1, z);
      tk.push_back(top_k(z.data(), int64_t(s.size()) - 1, V, k));
    }
  student.set_recompute(o.recompute);
  for (int64_t step = start; step < o.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    student.zero_grad();
    double loss = 0;
    for (int64_t b = 0; b < o.batch; ++b) {
      const size_t i = batch_index(o.seed, step, o.batch, b, train.size());
      const auto& s = train[i];
      const int64_t n = int64_t(s.size()) - 1;
      loss += student.forward_backward(s.data(), s.data() + 1, n, &tk[i], o.temperature, o.alpha, 1.0 / double(o.batch)) / double(o.batch);
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
    if (!o.checkpoint_dir.empty() && (step + 1 == o.steps || (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0)))
      save_checkpoint_dir(o.checkpoint_dir, make_checkpoint(settings, step + 1, res, student, opt));
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
