#include "engine/backends/ref/ref_backend.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/backends/host.h"
#include "engine/core/error.h"

namespace sb {
namespace {

class RefWeight : public Weight {
 public:
  explicit RefWeight(const WeightSource& s) : Weight(s.rows, s.cols, s.type), data_(static_cast<const uint8_t*>(s.data)) {
    format_ = s.format;
    if (format_ == WeightFormat::Int8PerChannel) {
      if (!s.scales) fail("ref backend: int8 weight '", s.name, "' has no scales");
      scales_ = s.scales;
      row_bytes_ = size_t(s.cols);
    } else {
      row_bytes_ = size_t(ggml_row_bytes(s.type, s.cols));
    }
  }
  size_t bytes() const override { return row_bytes_ * size_t(rows_) + (scales_ ? size_t(rows_) * 4 : 0); }
  void row(int64_t n, float* out) const {
    if (format_ == WeightFormat::Int8PerChannel) {
      const int8_t* q = int8_row(n);
      for (int64_t k = 0; k < cols_; ++k) out[k] = scales_[n] * float(q[k]);
      return;
    }
    dequantize_row(type_, data_ + size_t(n) * row_bytes_, out, cols_);
  }
  const int8_t* int8_row(int64_t n) const { return reinterpret_cast<const int8_t*>(data_ + size_t(n) * row_bytes_); }
  float scale(int64_t n) const { return scales_[n]; }

 private:
  const uint8_t* data_;
  size_t row_bytes_;
  const float* scales_ = nullptr;
};

void require_f32(const Tensor& t, const char* what) {
  if (t.dtype() != DType::F32) fail("ref backend: ", what, " must be f32");
}

class RefBackend : public Backend {
 public:
  std::string name() const override { return "ref"; }
  std::string describe() const override { return "ref: scalar reference loops, double accumulation, 1 thread"; }

  Tensor alloc(int64_t rows, int64_t cols, DType dt) override { return host_tensor(rows, cols, dt); }
  void upload(Tensor& dst, const float* src) override {
    require_f32(dst, "upload target");
    std::memcpy(dst.data(), src, dst.bytes());
  }
  void download(const Tensor& src, float* dst) override { from_dtype(src.dtype(), src.data(), dst, src.rows() * src.cols()); }
  std::unique_ptr<Weight> load_weight(const WeightSource& src) override { return std::make_unique<RefWeight>(src); }
  bool supports_format(WeightFormat) const override { return true; }
  std::unique_ptr<KvCache> create_kv_cache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt) override {
    return std::make_unique<HostKvCache>(n_layer, n_ctx, kv_dim, dt);
  }

  void do_embed(const Weight& table, const int32_t* ids, int64_t n, Tensor& x) override {
    const auto& w = static_cast<const RefWeight&>(table);
    require_f32(x, "embed output");
    for (int64_t t = 0; t < n; ++t) {
      if (ids[t] < 0 || ids[t] >= w.rows()) fail("token id ", ids[t], " out of range [0, ", w.rows(), ")");
      w.row(ids[t], x.as<float>() + t * x.cols());
    }
  }

  void do_rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out) override {
    const int64_t C = x.cols();
    for (int64_t t = 0; t < x.rows(); ++t) {
      const float* xr = x.as<float>() + t * C;
      float* o = out.as<float>() + t * C;
      double ss = 0;
      for (int64_t i = 0; i < C; ++i) ss += double(xr[i]) * double(xr[i]);
      const float scale = 1.0f / std::sqrt(float(ss / double(C)) + eps);
      for (int64_t i = 0; i < C; ++i) o[i] = xr[i] * scale * w.as<float>()[i];
    }
  }

  void do_matmul(const Tensor& x, const Weight& weight, Tensor& y, const Tensor* bias, bool accumulate) override {
    const auto& w = static_cast<const RefWeight&>(weight);
    const int64_t T = x.rows(), K = x.cols(), N = w.rows();
    if (K != w.cols() || y.rows() != T || y.cols() != N) fail("ref matmul: shape mismatch");
    if (w.format() == WeightFormat::Int8PerChannel) {
      // The int8 format's definition: x quantized per token (quantize_row_s8), exact integer
      // dot products, y = d_x[t] * scale_w[n] * sum_k qx[t][k] * qw[n][k].
      std::vector<int8_t> xq(size_t(T * K));
      std::vector<float> xd(static_cast<size_t>(T));
      for (int64_t t = 0; t < T; ++t) xd[size_t(t)] = quantize_row_s8(x.as<float>() + t * K, xq.data() + t * K, K);
      for (int64_t n = 0; n < N; ++n) {
        const int8_t* wq = w.int8_row(n);
        for (int64_t t = 0; t < T; ++t) {
          int64_t acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += int64_t(xq[size_t(t * K + k)]) * int64_t(wq[k]);
          double v = double(acc) * double(xd[size_t(t)]) * double(w.scale(n));
          if (bias) v += bias->as<float>()[n];
          float& out = y.as<float>()[t * N + n];
          out = accumulate ? out + float(v) : float(v);
        }
      }
      return;
    }
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t n = 0; n < N; ++n) {
      w.row(n, row.data());
      for (int64_t t = 0; t < T; ++t) {
        const float* xr = x.as<float>() + t * K;
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += double(xr[k]) * double(row[size_t(k)]);
        if (bias) acc += bias->as<float>()[n];
        float& out = y.as<float>()[t * N + n];
        out = accumulate ? out + float(acc) : float(acc);
      }
    }
  }

  void do_rope(Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0) override { host_rope("ref", x, n_heads, s, pos0, 1); }

  void do_kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0) override {
    host_kv_store(cache, layer, k, v, pos0, to_dtype);
  }

  void do_attention(const Tensor& q, const KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s, Tensor& out) override {
    const auto& c = static_cast<const HostKvCache&>(cache);
    const int64_t D = s.head_dim, group = s.n_head / s.n_head_kv;
    const float scale = s.kq_scale();
    const int64_t n_kv = pos0 + q.rows();
    std::vector<float> kf(static_cast<size_t>(n_kv * c.kv_dim())), vf(size_t(n_kv * c.kv_dim()));
    for (int64_t p = 0; p < n_kv; ++p) {
      from_dtype(c.dtype(), c.k_row(layer, p), kf.data() + p * c.kv_dim(), c.kv_dim());
      from_dtype(c.dtype(), c.v_row(layer, p), vf.data() + p * c.kv_dim(), c.kv_dim());
    }
    std::vector<float> qh(static_cast<size_t>(D)), scores(static_cast<size_t>(n_kv));
    for (int64_t t = 0; t < q.rows(); ++t) {
      const int64_t n_ctx = pos0 + t + 1;
      const int64_t lo = s.first_key(n_ctx);
      for (int64_t h = 0; h < s.n_head; ++h) {
        const int64_t kvh = h / group;
        std::memcpy(qh.data(), q.as<float>() + t * q.cols() + h * D, size_t(D) * 4);
        round_to_dtype(c.dtype(), qh.data(), D);
        float mx = -INFINITY;
        for (int64_t p = lo; p < n_ctx; ++p) {
          const float* kr = kf.data() + p * c.kv_dim() + kvh * D;
          double acc = 0;
          for (int64_t d = 0; d < D; ++d) acc += double(qh[size_t(d)]) * double(kr[d]);
          float sc = float(acc) * scale;
          if (s.softcap > 0.0f) sc = softcap_value(sc, s.softcap);
          scores[size_t(p)] = sc;
          mx = std::max(mx, scores[size_t(p)]);
        }
        double sum = 0;
        for (int64_t p = lo; p < n_ctx; ++p) {
          scores[size_t(p)] = std::exp(scores[size_t(p)] - mx);
          sum += scores[size_t(p)];
        }
        for (int64_t p = lo; p < n_ctx; ++p) scores[size_t(p)] = float(scores[size_t(p)] / sum);
        round_to_dtype(c.dtype(), scores.data() + lo, n_ctx - lo);
        float* o = out.as<float>() + t * out.cols() + h * D;
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t p = lo; p < n_ctx; ++p) acc += double(scores[size_t(p)]) * double(vf[size_t(p * c.kv_dim() + kvh * D + d)]);
          o[d] = float(acc);
        }
      }
    }
  }

  void do_swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    const int64_t n = gate.rows() * gate.cols();
    for (int64_t i = 0; i < n; ++i) {
      const float g = gate.as<float>()[i];
      out.as<float>()[i] = g / (1.0f + std::exp(-g)) * up.as<float>()[i];
    }
  }

  void do_geglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    const int64_t n = gate.rows() * gate.cols();
    for (int64_t i = 0; i < n; ++i) out.as<float>()[i] = gelu_tanh(gate.as<float>()[i]) * up.as<float>()[i];
  }

  void do_add(Tensor& x, const Tensor& y) override {
    const int64_t n = x.rows() * x.cols();
    for (int64_t i = 0; i < n; ++i) x.as<float>()[i] += y.as<float>()[i];
  }

  void do_scale(Tensor& x, float s) override {
    const int64_t n = x.rows() * x.cols();
    for (int64_t i = 0; i < n; ++i) x.as<float>()[i] *= s;
  }

  void do_softcap(Tensor& x, float cap) override {
    const int64_t n = x.rows() * x.cols();
    for (int64_t i = 0; i < n; ++i) x.as<float>()[i] = softcap_value(x.as<float>()[i], cap);
  }
};

}  // namespace

std::unique_ptr<Backend> make_ref_backend(const BackendOptions&) { return std::make_unique<RefBackend>(); }

}  // namespace sb
