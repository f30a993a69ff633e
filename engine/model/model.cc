#include "engine/model/model.h"

#include <algorithm>
#include <cstring>

#include "engine/core/error.h"
#include "engine/model/forward.h"

namespace sb {

namespace {

const GgufTensorInfo& need_tensor(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo* t = f.tensor(name);
  if (!t) fail(f.name(), ": tensor '", name, "' is missing");
  return *t;
}

// A matrix that maps `in` features to `out` features: GGUF ne = [in, out].
WeightSource matrix_source(const GgufFile& f, const std::string& name, int64_t in, int64_t out) {
  const GgufTensorInfo& t = need_tensor(f, name);
  if (t.ne.size() != 2 || t.ne[0] != in || t.ne[1] != out)
    fail(f.name(), ": tensor '", name, "' has shape [", t.ne[0], t.ne.size() > 1 ? ", " + std::to_string(t.ne[1]) : "", "], expected [", in,
         ", ", out, "]");
  WeightSource s{name, t.type, out, in, f.tensor_data(t)};
  s.file_pages = f.mapped();
  return s;
}

// Output rows [r0, r0 + n) of a fused matrix (rows are independent in every GGUF type).
WeightSource row_slice(const WeightSource& s, int64_t r0, int64_t n, const std::string& part) {
  WeightSource out = s;
  out.name = s.name + "[" + part + "]";
  out.rows = n;
  out.data = static_cast<const uint8_t*>(s.data) + size_t(r0) * size_t(ggml_row_bytes(s.type, s.cols));
  return out;
}

Tensor vector_tensor(const GgufFile& f, Backend& b, const std::string& name, int64_t n) {
  const GgufTensorInfo& t = need_tensor(f, name);
  if (t.n_elements != n) fail(f.name(), ": tensor '", name, "' has ", t.n_elements, " elements, expected ", n);
  std::vector<float> v = f.tensor_f32(t);
  Tensor out = b.alloc(1, n, DType::F32);
  b.upload(out, v.data());
  return out;
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path, Backend& backend, const WeightTransform& transform) {
  return load(GgufFile::open(path), backend, transform);
}

std::unique_ptr<Model> Model::load(std::shared_ptr<const GgufFile> file, Backend& backend, const WeightTransform& transform) {
  std::unique_ptr<Model> m(new Model(file, backend));
  const GgufFile& f = *file;
  m->cfg_ = ModelConfig::from_gguf(f);
  const ModelConfig& c = m->cfg_;
  auto load_source = [&](WeightSource src) {
    if (transform) src = transform(src, m->owned_);
    if (!backend.supports_format(src.format))
      fail("backend ", backend.name(), " cannot run ", weight_format_name(src.format), " weights ('", src.name, "'); use another backend");
    return backend.load_weight(src);
  };
  auto load_matrix = [&](const std::string& name, int64_t in, int64_t out) { return load_source(matrix_source(f, name, in, out)); };
  m->tok_embd_ = backend.load_weight(matrix_source(f, "token_embd.weight", c.n_embd, c.n_vocab));
  m->output_norm_ = vector_tensor(f, backend, "output_norm.weight", c.n_embd);
  m->output_ = load_matrix(c.tied_output ? "token_embd.weight" : "output.weight", c.n_embd, c.n_vocab);
  if (c.rope_freqs) m->rope_freqs_ = vector_tensor(f, backend, "rope_freqs.weight", c.n_rot / 2);
  m->layers_.resize(size_t(c.n_layer));
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& L = m->layers_[size_t(i)];
    L.attn_norm = vector_tensor(f, backend, p + "attn_norm.weight", c.n_embd);
    L.ffn_norm = vector_tensor(f, backend, p + "ffn_norm.weight", c.n_embd);
    if (c.fused_qkv) {  // rows: q, then k, then v
      const WeightSource qkv = matrix_source(f, p + "attn_qkv.weight", c.n_embd, c.q_dim() + 2 * c.kv_dim());
      L.wq = load_source(row_slice(qkv, 0, c.q_dim(), "q"));
      L.wk = load_source(row_slice(qkv, c.q_dim(), c.kv_dim(), "k"));
      L.wv = load_source(row_slice(qkv, c.q_dim() + c.kv_dim(), c.kv_dim(), "v"));
    } else {
      L.wq = load_matrix(p + "attn_q.weight", c.n_embd, c.q_dim());
      L.wk = load_matrix(p + "attn_k.weight", c.n_embd, c.kv_dim());
      L.wv = load_matrix(p + "attn_v.weight", c.n_embd, c.kv_dim());
    }
    L.wo = load_matrix(p + "attn_output.weight", c.q_dim(), c.n_embd);
    if (c.fused_gate_up) {  // llama.cpp's LLM_FFN_SWIGLU: silu(first half) * second half
      const WeightSource gu = matrix_source(f, p + "ffn_up.weight", c.n_embd, 2 * c.n_ff);
      L.w_gate = load_source(row_slice(gu, 0, c.n_ff, "gate"));
      L.w_up = load_source(row_slice(gu, c.n_ff, c.n_ff, "up"));
    } else {
      L.w_gate = load_matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff);
      L.w_up = load_matrix(p + "ffn_up.weight", c.n_embd, c.n_ff);
    }
    L.w_down = load_matrix(p + "ffn_down.weight", c.n_ff, c.n_embd);
    if (c.qk_norm) {
      L.q_norm = vector_tensor(f, backend, p + "attn_q_norm.weight", c.head_dim);
      L.k_norm = vector_tensor(f, backend, p + "attn_k_norm.weight", c.head_dim);
    }
    if (c.post_norms) {
      L.post_attn_norm = vector_tensor(f, backend, p + "post_attention_norm.weight", c.n_embd);
      L.post_ffn_norm = vector_tensor(f, backend, p + "post_ffw_norm.weight", c.n_embd);
    }
    if (c.qkv_bias) {
      L.bq = vector_tensor(f, backend, p + "attn_q.bias", c.q_dim());
      L.bk = vector_tensor(f, backend, p + "attn_k.bias", c.kv_dim());
      L.bv = vector_tensor(f, backend, p + "attn_v.bias", c.kv_dim());
    }
    m->active_.push_back(i);
  }
  return m;
}

AttentionShape Model::attention_shape(int64_t l) const {
  const ModelConfig& c = cfg_;
  AttentionShape s{c.n_head, c.n_head_kv, c.head_dim, c.n_rot, c.rope_base, c.rope_style};
  s.freq_scale = c.rope_freq_scale;
  s.freq_factors = rope_freqs_;
  s.attn_scale = c.attn_scale;
  s.softcap = c.attn_softcap;
  s.window = c.window(l);
  return s;
}

size_t Model::sum_weights(size_t (Weight::*bytes)() const) const {
  size_t b = (tok_embd_.get()->*bytes)() + (cfg_.tied_output ? 0 : (output_.get()->*bytes)());
  for (const auto& L : layers_) {
    for (const Weight* w : {L.wq.get(), L.wk.get(), L.wv.get(), L.wo.get(), L.w_gate.get(), L.w_up.get(), L.w_down.get()})
      b += (w->*bytes)();
  }
  return b;
}

size_t Model::weight_bytes() const { return sum_weights(&Weight::bytes); }

size_t Model::matrix_bytes() const { return sum_weights(&Weight::format_bytes); }

void Model::set_active_layers(std::vector<int64_t> layers) {
  for (int64_t l : layers)
    if (l < 0 || l >= cfg_.n_layer) fail("layer index ", l, " out of range");
  active_ = std::move(layers);
}

Context::Context(const Model& model, const ContextOptions& opt) : model_(model) {
  const ModelConfig& c = model.config();
  n_ctx_ = opt.n_ctx > 0 ? opt.n_ctx : c.n_ctx;
  n_batch_ = std::max<int64_t>(1, std::min(opt.n_batch, n_ctx_));
  step_graphs_ = opt.step_graphs;
  Backend& b = model.backend();
  kv_ = b.create_kv_cache(c.n_layer, n_ctx_, c.kv_dim(), opt.kv_type);
  for (int64_t l = 0; l < c.n_layer; ++l) shapes_.push_back(model.attention_shape(l));
  x_ = b.alloc(n_batch_, c.n_embd, DType::F32);
  h_ = b.alloc(n_batch_, c.n_embd, DType::F32);
  q_ = b.alloc(n_batch_, c.q_dim(), DType::F32);
  k_ = b.alloc(n_batch_, c.kv_dim(), DType::F32);
  v_ = b.alloc(n_batch_, c.kv_dim(), DType::F32);
  att_ = b.alloc(n_batch_, c.q_dim(), DType::F32);
  gate_ = b.alloc(n_batch_, c.n_ff, DType::F32);
  up_ = b.alloc(n_batch_, c.n_ff, DType::F32);
}

void Context::rewind(int64_t pos) {
  if (pos < 0 || pos > pos_) fail("cannot rewind to position ", pos, " (at ", pos_, ")");
  pos_ = pos;
}

void Context::eval(const int32_t* ids, int64_t n, bool all_logits, std::vector<float>& logits) {
  eval_rows(ids, n, all_logits ? 0 : n - 1, logits);
}

void Context::check_eval(const int32_t* ids, int64_t n) const {
  const int64_t V = model_.config().n_vocab;
  if (n <= 0) fail("eval needs at least one token");
  if (pos_ + n > n_ctx_) fail("sequence of ", pos_ + n, " tokens exceeds the context of ", n_ctx_, " tokens");
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V) fail("token id ", ids[i], " out of range [0, ", V, ")");
}

int32_t Context::eval_greedy(const int32_t* ids, int64_t n) {
  check_eval(ids, n);
  int32_t next = 0;
  for (int64_t done = 0; done < n;) {
    const int64_t chunk = std::min(n_batch_, n - done);
    const bool last = done + chunk == n;
    forward_chunk(ids + done, chunk, last ? chunk - 1 : chunk, nullptr, last ? &next : nullptr);
    done += chunk;
  }
  return next;
}

void Context::eval_rows(const int32_t* ids, int64_t n, int64_t first_row, std::vector<float>& logits) {
  const int64_t V = model_.config().n_vocab;
  if (n <= 0) fail("eval needs at least one token");
  if (first_row < 0 || first_row > n) fail("eval: first logits row ", first_row, " out of range");
  check_eval(ids, n);
  logits.resize(size_t((n - first_row) * V));
  for (int64_t done = 0; done < n;) {
    const int64_t chunk = std::min(n_batch_, n - done);
    const int64_t out_from = std::max<int64_t>(0, first_row - done);
    float* out = out_from < chunk ? logits.data() + (done + out_from - first_row) * V : nullptr;
    forward_chunk(ids + done, chunk, out_from, out);
    done += chunk;
  }
}

void Context::forward_chunk(const int32_t* ids, int64_t T, int64_t out_from, float* logits_out, int32_t* argmax_out) {
  const ModelConfig& c = model_.config();
  Backend& b = model_.backend();
  const bool want = (logits_out || argmax_out) && out_from < T;
  const int64_t rows = want ? T - out_from : 0;
  if (want && (logits_.empty() || logits_.rows() < rows)) {
    logits_ = b.alloc(rows == 1 ? 1 : n_batch_, c.n_vocab, DType::F32);
    graph_.reset();  // a recorded step wrote into the old logits tensor
  }
  Tensor x = x_.rows_view(0, T), h = h_.rows_view(0, T);
  Tensor lg = want ? logits_.rows_view(0, rows) : Tensor();
  // One forward pass over the chunk, up to the logits (not their download).
  auto run = [&] {
    detail::ForwardBuffers buf{x_, h_, q_, k_, v_, att_, gate_, up_, n_batch_};
    detail::forward_layers(model_, shapes_, buf, ids, T, {detail::ForwardSegment{kv_.get(), pos_, 0, T}}, &observer_);
    if (!want) return;
    Tensor xr = x.rows_view(out_from, rows), hr = h.rows_view(out_from, rows);
    b.rmsnorm(xr, model_.output_norm(), c.rms_eps, hr);
    b.matmul(hr, model_.output(), lg);
    if (c.final_softcap > 0.0f) b.softcap(lg, c.final_softcap);
  };
  // A single-token step with logits is the same op sequence every time: a backend may record
  // it once and replay it (Backend::run_step_graph); otherwise the ops run directly.
  bool done = false;
  if (T == 1 && want && step_graphs_ && !observer_) {
    if (graph_ && graph_layers_ != model_.active_layers()) graph_.reset();
    if (!graph_) graph_layers_ = model_.active_layers();
    done = b.run_step_graph(graph_, ids[0], pos_, run);
  }
  if (!done) run();
  pos_ += T;
  if (!want) return;
  if (argmax_out)
    b.argmax_rows(lg, argmax_out);
  else
    b.download(lg, logits_out);
}

}  // namespace sb
