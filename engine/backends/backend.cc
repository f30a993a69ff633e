#include "engine/backends/backend.h"

#include <cmath>
#include <string>
#include <vector>

#include "engine/core/error.h"

namespace sb {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
  }
  return "?";
}

DType dtype_from_name(const std::string& name) {
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  if (name == "bf16") return DType::BF16;
  fail("unknown type '", name, "' (f32, f16, bf16)");
}

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::Ggml:
      return "ggml";
    case WeightFormat::Int8PerChannel:
      return "int8 per-channel";
  }
  return "?";
}

size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

Tensor Tensor::rows_view(int64_t r0, int64_t n) const {
  if (r0 < 0 || n < 0 || r0 + n > rows_) fail("rows_view(", r0, ", ", n, ") out of range for ", rows_, " rows");
  return Tensor(mem_, offset_ + size_t(r0 * cols_) * dtype_size(dtype_), n, cols_, dtype_);
}

Tensor Tensor::reshaped(int64_t rows, int64_t cols) const {
  if (rows < 0 || cols < 0 || rows * cols != rows_ * cols_) fail("reshaped(", rows, ", ", cols, ") does not match ", rows_, " x ", cols_);
  return Tensor(mem_, offset_, rows, cols, dtype_);
}

float AttentionShape::kq_scale() const { return attn_scale != 0.0f ? attn_scale : 1.0f / std::sqrt(float(head_dim)); }

void Backend::argmax_rows(const Tensor& logits, int32_t* out) {
  const int64_t R = logits.rows(), V = logits.cols();
  std::vector<float> v(size_t(R * V));
  download(logits, v.data());
  for (int64_t r = 0; r < R; ++r) {
    const float* row = v.data() + r * V;
    int64_t best = 0;
    for (int64_t i = 1; i < V; ++i)
      if (row[i] > row[best] || (row[best] != row[best] && row[i] == row[i])) best = i;  // NaN never wins
    out[r] = int32_t(best);
  }
}

// ---- op front functions: one shape check for every backend ----

namespace {

std::string shape(const Tensor& t) { return std::to_string(t.rows()) + " x " + std::to_string(t.cols()); }

void same_shape(const char* op, const char* a, const Tensor& ta, const char* b, const Tensor& tb) {
  if (ta.rows() != tb.rows() || ta.cols() != tb.cols()) fail(op, ": ", a, " is ", shape(ta), " but ", b, " is ", shape(tb));
}

}  // namespace

void Backend::embed(const Weight& table, const int32_t* ids, int64_t n, Tensor& x) {
  if (n < 0 || x.rows() != n || x.cols() != table.cols())
    fail("embed: ", n, " ids into x of ", shape(x), " from a table of ", table.rows(), " x ", table.cols());
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= table.rows())
      fail("embed: token id ", ids[i], " at ", i, " is outside the table's ", table.rows(), " rows");
  do_embed(table, ids, n, x);
}

void Backend::rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out) {
  if (w.rows() != 1 || w.cols() != x.cols()) fail("rmsnorm: weight is ", shape(w), " for x of ", shape(x));
  same_shape("rmsnorm", "out", out, "x", x);
  do_rmsnorm(x, w, eps, out);
}

void Backend::matmul(const Tensor& x, const Weight& w, Tensor& y, const Tensor* bias, bool accumulate) {
  if (x.cols() != w.cols()) fail("matmul: x is ", shape(x), " but the weight has ", w.cols(), " inputs");
  if (y.rows() != x.rows() || y.cols() != w.rows()) fail("matmul: y is ", shape(y), " for x of ", shape(x), " and ", w.rows(), " outputs");
  if (bias && (bias->rows() != 1 || bias->cols() != w.rows())) fail("matmul: bias is ", shape(*bias), " for ", w.rows(), " outputs");
  do_matmul(x, w, y, bias, accumulate);
}

void Backend::matmul_multi(const Tensor& x, const MatmulOut* outs, int n) {
  for (int i = 0; i < n; ++i) {
    const MatmulOut& o = outs[i];
    if (!o.w || !o.y) fail("matmul_multi: product ", i, " has no weight or output");
    const Weight& w = *o.w;
    const Tensor& y = *o.y;
    if (x.cols() != w.cols()) fail("matmul_multi: x is ", shape(x), " but weight ", i, " has ", w.cols(), " inputs");
    if (y.rows() != x.rows() || y.cols() != w.rows())
      fail("matmul_multi: y ", i, " is ", shape(y), " for x of ", shape(x), " and ", w.rows(), " outputs");
    if (o.bias && (o.bias->rows() != 1 || o.bias->cols() != w.rows()))
      fail("matmul_multi: bias ", i, " is ", shape(*o.bias), " for ", w.rows(), " outputs");
  }
  do_matmul_multi(x, outs, n);
}

void Backend::rope(Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0) {
  if (n_heads <= 0 || x.cols() != n_heads * s.head_dim) fail("rope: x is ", shape(x), " for ", n_heads, " heads of ", s.head_dim);
  if (s.n_rot < 0 || s.n_rot > s.head_dim || pos0 < 0) fail("rope: ", s.n_rot, " rotated dims of ", s.head_dim, " at position ", pos0);
  do_rope(x, n_heads, s, pos0);
}

void Backend::kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0) {
  same_shape("kv_store", "k", k, "v", v);
  if (k.cols() != cache.kv_dim()) fail("kv_store: k is ", shape(k), " for a cache of width ", cache.kv_dim());
  if (layer < 0 || layer >= cache.n_layer()) fail("kv_store: layer ", layer, " of ", cache.n_layer());
  if (pos0 < 0 || pos0 + k.rows() > cache.n_ctx())
    fail("kv_store: positions ", pos0, " .. ", pos0 + k.rows() - 1, " outside the cache's ", cache.n_ctx());
  do_kv_store(cache, layer, k, v, pos0);
}

void Backend::attention(const Tensor& q, const KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s, Tensor& out) {
  const int64_t width = s.n_head * s.head_dim;
  if (q.cols() != width || out.cols() != width || out.rows() != q.rows())
    fail("attention: q is ", shape(q), " and out ", shape(out), " for ", s.n_head, " heads of ", s.head_dim);
  if (s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0 || s.n_head_kv * s.head_dim != cache.kv_dim())
    fail("attention: ", s.n_head, " query heads over ", s.n_head_kv, " KV heads of ", s.head_dim, " for a cache of width ", cache.kv_dim());
  if (layer < 0 || layer >= cache.n_layer()) fail("attention: layer ", layer, " of ", cache.n_layer());
  if (pos0 < 0 || pos0 + q.rows() > cache.n_ctx())
    fail("attention: positions ", pos0, " .. ", pos0 + q.rows() - 1, " outside the cache's ", cache.n_ctx());
  do_attention(q, cache, layer, pos0, s, out);
}

void Backend::swiglu(const Tensor& gate, const Tensor& up, Tensor& out) {
  same_shape("swiglu", "gate", gate, "up", up);
  same_shape("swiglu", "out", out, "gate", gate);
  do_swiglu(gate, up, out);
}

void Backend::geglu(const Tensor& gate, const Tensor& up, Tensor& out) {
  same_shape("geglu", "gate", gate, "up", up);
  same_shape("geglu", "out", out, "gate", gate);
  do_geglu(gate, up, out);
}

void Backend::attention_block(Tensor& q, Tensor& k, const Tensor& v, KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s,
                              Tensor& att, const Weight& wo, Tensor& x) {
  // the checks of the ops it stands for, before any of them runs
  if (q.cols() != s.n_head * s.head_dim || k.cols() != s.n_head_kv * s.head_dim || k.rows() != q.rows())
    fail("attention_block: q is ", shape(q), " and k ", shape(k), " for ", s.n_head, " / ", s.n_head_kv, " heads of ", s.head_dim);
  if (s.n_rot < 0 || s.n_rot > s.head_dim || pos0 < 0)
    fail("attention_block: ", s.n_rot, " rotated dims of ", s.head_dim, " at position ", pos0);
  same_shape("attention_block", "k", k, "v", v);
  same_shape("attention_block", "att", att, "q", q);
  if (k.cols() != cache.kv_dim()) fail("attention_block: k is ", shape(k), " for a cache of width ", cache.kv_dim());
  if (s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0) fail("attention_block: ", s.n_head, " query heads over ", s.n_head_kv, " KV heads");
  if (layer < 0 || layer >= cache.n_layer()) fail("attention_block: layer ", layer, " of ", cache.n_layer());
  if (pos0 + q.rows() > cache.n_ctx())
    fail("attention_block: positions ", pos0, " .. ", pos0 + q.rows() - 1, " outside the cache's ", cache.n_ctx());
  if (wo.cols() != q.cols() || x.rows() != q.rows() || x.cols() != wo.rows())
    fail("attention_block: wo is ", wo.rows(), " x ", wo.cols(), " for att of ", shape(att), " into x of ", shape(x));
  do_attention_block(q, k, v, cache, layer, pos0, s, att, wo, x);
}

void Backend::do_attention_block(Tensor& q, Tensor& k, const Tensor& v, KvCache& cache, int64_t layer, int64_t pos0,
                                 const AttentionShape& s, Tensor& att, const Weight& wo, Tensor& x) {
  do_rope(q, s.n_head, s, pos0);
  do_rope(k, s.n_head_kv, s, pos0);
  do_kv_store(cache, layer, k, v, pos0);
  do_attention(q, cache, layer, pos0, s, att);
  do_matmul(att, wo, x, nullptr, /*accumulate=*/true);
}

void Backend::feed_forward(const Tensor& h, const Weight& w_gate, const Weight& w_up, const Weight& w_down, bool geglu, Tensor& g,
                           Tensor& u, Tensor& x) {
  const int64_t T = h.rows(), F = w_gate.rows();
  if (w_gate.cols() != h.cols() || w_up.cols() != h.cols() || w_up.rows() != F)
    fail("feed_forward: h is ", shape(h), " but gate is ", w_gate.rows(), " x ", w_gate.cols(), " and up ", w_up.rows(), " x ",
         w_up.cols());
  if (w_down.cols() != F || w_down.rows() != h.cols())
    fail("feed_forward: down is ", w_down.rows(), " x ", w_down.cols(), " for ", F, " hidden and ", h.cols(), " outputs");
  if (g.rows() != T || g.cols() != F) fail("feed_forward: g is ", shape(g), " for ", T, " x ", F);
  same_shape("feed_forward", "u", u, "g", g);
  same_shape("feed_forward", "x", x, "h", h);
  do_feed_forward(h, w_gate, w_up, w_down, geglu, g, u, x);
}

void Backend::do_feed_forward(const Tensor& h, const Weight& w_gate, const Weight& w_up, const Weight& w_down, bool geglu, Tensor& g,
                              Tensor& u, Tensor& x) {
  const MatmulOut gate_up[2] = {{&w_gate, &g, nullptr}, {&w_up, &u, nullptr}};
  do_matmul_multi(h, gate_up, 2);
  if (geglu)
    do_geglu(g, u, g);
  else
    do_swiglu(g, u, g);
  do_matmul(g, w_down, x, nullptr, /*accumulate=*/true);
}

void Backend::add(Tensor& x, const Tensor& y) {
  same_shape("add", "x", x, "y", y);
  do_add(x, y);
}

void Backend::scale(Tensor& x, float s) { do_scale(x, s); }

void Backend::softcap(Tensor& x, float cap) {
  if (!(cap > 0)) fail("softcap: cap ", cap, " must be positive");
  do_softcap(x, cap);
}

bool Backend::supports(Op op, GgmlType weight_type, WeightFormat format) const {
  if (op != Op::embed && op != Op::matmul) return true;
  return supports_format(format) && (format != WeightFormat::Ggml || ggml_type_supported(uint32_t(weight_type)));
}

}  // namespace sb
