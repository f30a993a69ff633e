#include "engine/train/train_model.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <type_traits>

#include <omp.h>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/train/ops.h"
#include "engine/train/ops_cpu.h"

namespace sb::train {

// Runs the training op `op` with the implementation of this model's backend: cpu::op for
// TrainBackend::Cpu (float only), the reference template otherwise.
#define SB_TRAIN_OP(op, ...)                  \
  do {                                        \
    if constexpr (std::is_same_v<T, float>) { \
      if (backend_ == TrainBackend::Cpu) {    \
        cpu::op(__VA_ARGS__);                 \
        break;                                \
      }                                       \
    }                                         \
    train::op(__VA_ARGS__);                   \
  } while (0)

namespace {
std::string blk(int64_t l, const char* name) { return "blk." + std::to_string(l) + "." + name; }

// The tensors of config c in order: (name, ne).
std::vector<std::pair<std::string, std::vector<int64_t>>> layout(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> v;
  v.push_back({"token_embd.weight", {c.n_embd, c.n_vocab}});
  v.push_back({"output_norm.weight", {c.n_embd}});
  if (!c.tied_output) v.push_back({"output.weight", {c.n_embd, c.n_vocab}});
  for (int64_t l = 0; l < c.n_layer; ++l) {
    v.push_back({blk(l, "attn_norm.weight"), {c.n_embd}});
    v.push_back({blk(l, "attn_q.weight"), {c.n_embd, c.q_dim()}});
    v.push_back({blk(l, "attn_k.weight"), {c.n_embd, c.kv_dim()}});
    v.push_back({blk(l, "attn_v.weight"), {c.n_embd, c.kv_dim()}});
    v.push_back({blk(l, "attn_output.weight"), {c.q_dim(), c.n_embd}});
    if (c.qk_norm) {
      v.push_back({blk(l, "attn_q_norm.weight"), {c.head_dim}});
      v.push_back({blk(l, "attn_k_norm.weight"), {c.head_dim}});
    }
    v.push_back({blk(l, "ffn_norm.weight"), {c.n_embd}});
    v.push_back({blk(l, "ffn_gate.weight"), {c.n_embd, c.n_ff}});
    v.push_back({blk(l, "ffn_up.weight"), {c.n_embd, c.n_ff}});
    v.push_back({blk(l, "ffn_down.weight"), {c.n_ff, c.n_embd}});
  }
  return v;
}

int64_t numel(const std::vector<int64_t>& ne) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}
}  // namespace

template <class T>
void TrainModel<T>::check_supported(const std::string& where) const {
  const ModelConfig& c = cfg_;
  auto refuse = [&](const char* what) { fail(where, ": training does not support ", what, " (arch ", c.arch, ")"); };
  if (c.arch != "llama" && c.arch != "qwen3") refuse("this architecture");
  if (c.qkv_bias) refuse("Q/K/V biases");
  if (c.attn_softcap != 0 || c.final_softcap != 0) refuse("logit soft-capping");
  if (c.n_swa != 0) refuse("sliding-window attention");
  if (c.geglu || c.post_norms || c.embd_scale != 0) refuse("gemma2's GeGLU / sandwich norms / embedding scale");
  if (c.fused_qkv || c.fused_gate_up) refuse("fused tensors");
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) refuse("this rope dimension");
  if (c.n_head % c.n_head_kv != 0) refuse("heads not a multiple of KV heads");
}

template <class T>
void TrainModel<T>::index() {
  auto find = [&](const std::string& name) -> int64_t {
    for (size_t i = 0; i < p_.size(); ++i)
      if (p_[i].name == name) return int64_t(i);
    return -1;
  };
  tok_embd = find("token_embd.weight");
  output_norm = find("output_norm.weight");
  output = cfg_.tied_output ? tok_embd : find("output.weight");
  layers.clear();
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    LayerIx L{find(blk(l, "attn_norm.weight")), find(blk(l, "attn_q.weight")),      find(blk(l, "attn_k.weight")),
              find(blk(l, "attn_v.weight")),    find(blk(l, "attn_output.weight")), find(blk(l, "ffn_norm.weight")),
              find(blk(l, "ffn_gate.weight")),  find(blk(l, "ffn_up.weight")),      find(blk(l, "ffn_down.weight"))};
    L.q_norm = find(blk(l, "attn_q_norm.weight"));
    L.k_norm = find(blk(l, "attn_k_norm.weight"));
    layers.push_back(L);
  }
  g_.assign(p_.size(), {});
  for (size_t i = 0; i < p_.size(); ++i) g_[i].assign(p_[i].w.size(), T(0));
}

template <class T>
TrainModel<T> TrainModel<T>::from_gguf(const GgufFile& f) {
  TrainModel m;
  m.cfg_ = ModelConfig::from_gguf(f);
  m.check_supported(f.name());
  for (auto& [name, ne] : layout(m.cfg_)) {
    const GgufTensorInfo* t = f.tensor(name);
    if (!t) fail(f.name(), ": tensor '", name, "' is missing");
    if (t->n_elements != numel(ne)) fail(f.name(), ": tensor '", name, "' has ", t->n_elements, " elements, expected ", numel(ne));
    std::vector<float> v = f.tensor_f32(*t);
    m.p_.push_back({name, ne, std::vector<T>(v.begin(), v.end())});
  }
  if (m.cfg_.rope_freqs) {
    const GgufTensorInfo* t = f.tensor("rope_freqs.weight");
    if (!t || t->n_elements != m.cfg_.n_rot / 2) fail(f.name(), ": tensor 'rope_freqs.weight' is missing or has the wrong size");
    m.rope_freqs = f.tensor_f32(*t);
  }
  m.index();
  return m;
}

template <class T>
TrainModel<T> TrainModel<T>::random(const ModelConfig& c, uint64_t seed, double std, double norm_jitter) {
  TrainModel m;
  m.cfg_ = c;
  m.check_supported("random model");
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (auto& [name, ne] : layout(c)) {
    ParamTensor<T> p{name, ne, std::vector<T>(size_t(numel(ne)))};
    for (T& x : p.w) x = T(ne.size() == 1 ? 1.0 + norm_jitter * nd(rng) : std * nd(rng));
    m.p_.push_back(std::move(p));
  }
  if (c.rope_freqs)
    for (int64_t i = 0; i < c.n_rot / 2; ++i) m.rope_freqs.push_back(float(1.0 + 0.5 * double(i)));
  m.index();
  return m;
}

template <class T>
template <class U>
TrainModel<U> TrainModel<T>::cast() const {
  TrainModel<U> m;
  m.cfg_ = cfg_;
  for (const auto& p : p_) m.p_.push_back({p.name, p.ne, std::vector<U>(p.w.begin(), p.w.end())});
  m.rope_freqs = rope_freqs;
  m.index();
  return m;
}

template <class T>
void TrainModel<T>::zero_grad() {
  for (auto& g : g_) std::fill(g.begin(), g.end(), T(0));
}

template <class T>
int64_t TrainModel<T>::n_params() const {
  int64_t n = 0;
  for (const auto& p : p_) n += int64_t(p.w.size());
  return n;
}

template <class T>
void TrainModel<T>::set_backend(TrainBackend b, int threads) {
  if constexpr (!std::is_same_v<T, float>) {
    if (b == TrainBackend::Cpu) fail("training: the cpu training ops are f32 only (double is the reference)");
  }
  backend_ = b;
  if (b == TrainBackend::Cpu) omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
}

template <class T>
int64_t TrainModel<T>::saved_activation_values() const {
  int64_t n = 0;
  for (const LayerAct& a : act_)
    for (const std::vector<T>* v : {&a.x_in, &a.rstd1, &a.h1, &a.q_pre, &a.q_rstd, &a.k_pre, &a.k_rstd, &a.q, &a.k, &a.v, &a.probs, &a.att,
                                    &a.x_mid, &a.rstd2, &a.h2, &a.gate, &a.up, &a.act})
      n += int64_t(v->size());
  return n;
}

template <class T>
void TrainModel<T>::layer_forward(int64_t l, std::vector<T>& x, LayerAct& a, const RopeTable& rt, double scale) {
  const ModelConfig& c = cfg_;
  const int64_t n = n_, C = c.n_embd, H = c.n_head, Hkv = c.n_head_kv, D = c.head_dim, F = c.n_ff;
  const int64_t qd = c.q_dim(), kd = c.kv_dim();
  auto W = [&](int64_t i) { return p_[size_t(i)].w.data(); };
  const LayerIx& L = layers[size_t(l)];
  a.x_in = x;
  a.rstd1.resize(size_t(n));
  a.h1.resize(size_t(n * C));
  SB_TRAIN_OP(rmsnorm_fwd, x.data(), W(L.attn_norm), n, C, double(c.rms_eps), a.h1.data(), a.rstd1.data());
  a.q.resize(size_t(n * qd));
  a.k.resize(size_t(n * kd));
  a.v.resize(size_t(n * kd));
  SB_TRAIN_OP(matmul_fwd, a.h1.data(), W(L.wq), n, C, qd, a.q.data(), false);
  SB_TRAIN_OP(matmul_fwd, a.h1.data(), W(L.wk), n, C, kd, a.k.data(), false);
  SB_TRAIN_OP(matmul_fwd, a.h1.data(), W(L.wv), n, C, kd, a.v.data(), false);
  if (c.qk_norm) {
    a.q_pre = a.q;
    a.k_pre = a.k;
    a.q_rstd.resize(size_t(n * H));
    a.k_rstd.resize(size_t(n * Hkv));
    SB_TRAIN_OP(rmsnorm_fwd, a.q_pre.data(), W(L.q_norm), n * H, D, double(c.rms_eps), a.q.data(), a.q_rstd.data());
    SB_TRAIN_OP(rmsnorm_fwd, a.k_pre.data(), W(L.k_norm), n * Hkv, D, double(c.rms_eps), a.k.data(), a.k_rstd.data());
  }
  SB_TRAIN_OP(rope_fwd, a.q.data(), H, D, c.n_rot, c.rope_style, rt);
  SB_TRAIN_OP(rope_fwd, a.k.data(), Hkv, D, c.n_rot, c.rope_style, rt);
  a.att.resize(size_t(n * qd));
  a.probs.resize(size_t(H * n * n));
  SB_TRAIN_OP(attention_fwd, a.q.data(), a.k.data(), a.v.data(), n, H, Hkv, D, scale, a.att.data(), a.probs.data());
  SB_TRAIN_OP(matmul_fwd, a.att.data(), W(L.wo), n, qd, C, x.data(), /*accumulate=*/true);
  a.x_mid = x;
  a.rstd2.resize(size_t(n));
  a.h2.resize(size_t(n * C));
  SB_TRAIN_OP(rmsnorm_fwd, x.data(), W(L.ffn_norm), n, C, double(c.rms_eps), a.h2.data(), a.rstd2.data());
  a.gate.resize(size_t(n * F));
  a.up.resize(size_t(n * F));
  a.act.resize(size_t(n * F));
  SB_TRAIN_OP(matmul_fwd, a.h2.data(), W(L.gate), n, C, F, a.gate.data(), false);
  SB_TRAIN_OP(matmul_fwd, a.h2.data(), W(L.up), n, C, F, a.up.data(), false);
  SB_TRAIN_OP(swiglu_fwd, a.gate.data(), a.up.data(), n * F, a.act.data());
  SB_TRAIN_OP(matmul_fwd, a.act.data(), W(L.down), n, F, C, x.data(), /*accumulate=*/true);
}

template <class T>
void TrainModel<T>::forward(const int32_t* ids, int64_t n, std::vector<T>& logits) {
  const ModelConfig& c = cfg_;
  const int64_t C = c.n_embd, D = c.head_dim, V = c.n_vocab;
  if (n < 1) fail("training forward: no tokens");
  if (c.n_ctx > 0 && n > c.n_ctx) fail("training forward: ", n, " tokens exceed the context of ", c.n_ctx);
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V) fail("training forward: token id ", ids[i], " at position ", i, " is outside the vocabulary of ", V);
  ids_.assign(ids, ids + n);
  n_ = n;
  const RopeTable rt = rope_table(n, 0, c.n_rot, c.rope_base, c.rope_freq_scale, rope_freqs.empty() ? nullptr : rope_freqs.data());
  const double scale = c.attn_scale != 0 ? double(c.attn_scale) : double(1.0f / std::sqrt(float(D)));
  std::vector<T> x(size_t(n * C));
  embed_fwd(p_[size_t(tok_embd)].w.data(), C, ids, n, x.data());
  act_.resize(size_t(c.n_layer));
  auto W = [&](int64_t i) { return p_[size_t(i)].w.data(); };
  for (int64_t l = 0; l < c.n_layer; ++l) {
    if (recompute_) {  // keep the layer's input only; backward recomputes the rest
      layer_forward(l, x, scratch_, rt, scale);
      act_[size_t(l)] = LayerAct{};
      act_[size_t(l)].x_in.swap(scratch_.x_in);
    } else {
      layer_forward(l, x, act_[size_t(l)], rt, scale);
    }
  }
  x_final_ = x;
  rstd_f_.resize(size_t(n));
  h_f_.resize(size_t(n * C));
  SB_TRAIN_OP(rmsnorm_fwd, x.data(), W(output_norm), n, C, double(c.rms_eps), h_f_.data(), rstd_f_.data());
  logits.resize(size_t(n * V));
  SB_TRAIN_OP(matmul_fwd, h_f_.data(), W(output), n, C, V, logits.data(), false);
}

template <class T>
void TrainModel<T>::backward(const T* dlogits) {
  const ModelConfig& c = cfg_;
  const int64_t n = n_, C = c.n_embd, H = c.n_head, Hkv = c.n_head_kv, D = c.head_dim, F = c.n_ff, V = c.n_vocab;
  const int64_t qd = c.q_dim(), kd = c.kv_dim();
  if (n == 0) fail("training backward without a forward pass");
  const RopeTable rt = rope_table(n, 0, c.n_rot, c.rope_base, c.rope_freq_scale, rope_freqs.empty() ? nullptr : rope_freqs.data());
  const double scale = c.attn_scale != 0 ? double(c.attn_scale) : double(1.0f / std::sqrt(float(D)));
  auto W = [&](int64_t i) { return p_[size_t(i)].w.data(); };
  auto G = [&](int64_t i) { return g_[size_t(i)].data(); };
  // gradient buffers are members, reused across calls (no fresh pages every step)
  std::vector<T>& dh = bwd_[0];
  std::vector<T>& dx = bwd_[1];
  std::vector<T>&dact = bwd_[2], &dgate = bwd_[3], &dup = bwd_[4], &datt = bwd_[5];
  std::vector<T>&dq = bwd_[6], &dk = bwd_[7], &dv = bwd_[8], &dqn = bwd_[9], &dkn = bwd_[10];
  dh.assign(size_t(n * C), T(0));
  dx.assign(size_t(n * C), T(0));
  SB_TRAIN_OP(matmul_bwd, h_f_.data(), W(output), dlogits, n, C, V, dh.data(), G(output));
  SB_TRAIN_OP(rmsnorm_bwd, x_final_.data(), W(output_norm), rstd_f_.data(), dh.data(), n, C, dx.data(), G(output_norm));
  for (int64_t l = c.n_layer - 1; l >= 0; --l) {
    if (recompute_) {  // the layer's activations again, from its saved input
      std::vector<T> x = act_[size_t(l)].x_in;
      layer_forward(l, x, scratch_, rt, scale);
    }
    const LayerAct& a = recompute_ ? scratch_ : act_[size_t(l)];
    const LayerIx& L = layers[size_t(l)];
    // x_out = x_mid + down(swiglu(gate(h2), up(h2))), h2 = rmsnorm(x_mid)
    dact.assign(size_t(n * F), T(0));
    SB_TRAIN_OP(matmul_bwd, a.act.data(), W(L.down), dx.data(), n, F, C, dact.data(), G(L.down));
    dgate.assign(size_t(n * F), T(0));
    dup.assign(size_t(n * F), T(0));
    SB_TRAIN_OP(swiglu_bwd, a.gate.data(), a.up.data(), dact.data(), n * F, dgate.data(), dup.data());
    std::fill(dh.begin(), dh.end(), T(0));
    SB_TRAIN_OP(matmul_bwd, a.h2.data(), W(L.gate), dgate.data(), n, C, F, dh.data(), G(L.gate));
    SB_TRAIN_OP(matmul_bwd, a.h2.data(), W(L.up), dup.data(), n, C, F, dh.data(), G(L.up));
    SB_TRAIN_OP(rmsnorm_bwd, a.x_mid.data(), W(L.ffn_norm), a.rstd2.data(), dh.data(), n, C, dx.data(), G(L.ffn_norm));
    // x_mid = x_in + wo(attention(rope(q), rope(k), v)), q/k/v = W h1, h1 = rmsnorm(x_in)
    datt.assign(size_t(n * qd), T(0));
    SB_TRAIN_OP(matmul_bwd, a.att.data(), W(L.wo), dx.data(), n, qd, C, datt.data(), G(L.wo));
    dq.assign(size_t(n * qd), T(0));
    dk.assign(size_t(n * kd), T(0));
    dv.assign(size_t(n * kd), T(0));
    SB_TRAIN_OP(attention_bwd, a.q.data(), a.k.data(), a.v.data(), a.probs.data(), datt.data(), n, H, Hkv, D, scale, dq.data(), dk.data(),
                dv.data());
    SB_TRAIN_OP(rope_bwd, dq.data(), H, D, c.n_rot, c.rope_style, rt);
    SB_TRAIN_OP(rope_bwd, dk.data(), Hkv, D, c.n_rot, c.rope_style, rt);
    if (c.qk_norm) {
      dqn.assign(dq.size(), T(0));
      dkn.assign(dk.size(), T(0));
      SB_TRAIN_OP(rmsnorm_bwd, a.q_pre.data(), W(L.q_norm), a.q_rstd.data(), dq.data(), n * H, D, dqn.data(), G(L.q_norm));
      SB_TRAIN_OP(rmsnorm_bwd, a.k_pre.data(), W(L.k_norm), a.k_rstd.data(), dk.data(), n * Hkv, D, dkn.data(), G(L.k_norm));
      dq.swap(dqn);
      dk.swap(dkn);
    }
    std::fill(dh.begin(), dh.end(), T(0));
    SB_TRAIN_OP(matmul_bwd, a.h1.data(), W(L.wq), dq.data(), n, C, qd, dh.data(), G(L.wq));
    SB_TRAIN_OP(matmul_bwd, a.h1.data(), W(L.wk), dk.data(), n, C, kd, dh.data(), G(L.wk));
    SB_TRAIN_OP(matmul_bwd, a.h1.data(), W(L.wv), dv.data(), n, C, kd, dh.data(), G(L.wv));
    SB_TRAIN_OP(rmsnorm_bwd, a.x_in.data(), W(L.attn_norm), a.rstd1.data(), dh.data(), n, C, dx.data(), G(L.attn_norm));
  }
  embed_bwd(dx.data(), C, ids_.data(), n, G(tok_embd));
}

template <class T>
double TrainModel<T>::forward_backward(const int32_t* ids, const int32_t* targets, int64_t n, const TopK* teacher, double tau, double alpha,
                                       double weight) {
  std::vector<T>& logits = logits_buf_;
  forward(ids, n, logits);
  std::vector<T>& dl = dlogits_buf_;  // reused across calls: no page faults for n * n_vocab values per step
  dl.assign(logits.size(), T(0));
  const int64_t V = cfg_.n_vocab;
  const double loss = teacher ? distill_loss(logits.data(), n, V, *teacher, targets, tau, alpha, weight, dl.data())
                              : cross_entropy(logits.data(), n, V, targets, weight, dl.data());
  backward(dl.data());
  return loss;
}

int64_t train_flops(const ModelConfig& c, int64_t n) {
  const int64_t per_layer = 2 * c.n_embd * c.q_dim() + 2 * c.n_embd * c.kv_dim() + 3 * c.n_embd * c.n_ff;
  const int64_t matrix_params = c.n_layer * per_layer + c.n_vocab * c.n_embd;
  return 6 * matrix_params * n + 6 * c.n_layer * c.n_head * c.head_dim * n * (n + 1);
}

template class TrainModel<float>;
template class TrainModel<double>;
template TrainModel<double> TrainModel<float>::cast<double>() const;
template TrainModel<float> TrainModel<double>::cast<float>() const;

}  // namespace sb::train
