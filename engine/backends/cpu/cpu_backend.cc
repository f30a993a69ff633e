#include "engine/backends/cpu/cpu_backend.h"

#include <omp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "engine/backends/cpu/kernels.h"
#include "engine/backends/host.h"
#include "engine/core/error.h"

namespace sb {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using ddt = memory::data_type;

constexpr int64_t kSmallM = 8;  // products with at most this many rows use the AVX2 kernels
// Below this much work (bytes touched or multiply-adds) an op runs on one thread: waking the
// OpenMP team costs more than it saves.
constexpr double kParallelWork = 256 * 1024;

class CpuWeight : public Weight {
 public:
  CpuWeight(const WeightSource& s) : Weight(s.rows, s.cols, s.type), data(static_cast<const uint8_t*>(s.data)) {
    row_bytes = size_t(ggml_row_bytes(s.type, s.cols));
  }
  size_t bytes() const override { return packed ? packed_md.get_size() : row_bytes * size_t(rows_); }
  const uint8_t* data;
  size_t row_bytes;
  // Set when the weight was reordered into a oneDNN layout (repack or bf16 compute).
  std::shared_ptr<void> packed;
  memory::desc packed_md;
};

struct PrimKey {
  int64_t k, n;
  int kind;  // 0 plain f32 'ba', 1 packed (desc below), 2 bf16 packed
  bool bias, accumulate;
  bool operator<(const PrimKey& o) const {
    return std::tie(k, n, kind, bias, accumulate) < std::tie(o.k, o.n, o.kind, o.bias, o.accumulate);
  }
};

// Drops file pages of a weight we no longer read from our resident set (best effort).
void release_source(const void* p, size_t bytes) {
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  uintptr_t a = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  uintptr_t b = (reinterpret_cast<uintptr_t>(p) + bytes) / page * page;
  if (b > a) ::madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED);
}

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& opt, bool repack)
      : eng_(dnnl::engine::kind::cpu, 0), stream_(eng_), compute_(opt.compute), repack_(repack) {
    if (!cpu::cpu_supported()) fail("cpu backend: this CPU lacks AVX2/FMA/F16C (use --backend ref)");
    threads_ = opt.threads > 0 ? opt.threads : omp_get_num_procs();
    omp_set_num_threads(threads_);
    if (compute_ == ComputeType::BF16) {
      // Probe once so an unsupported CPU fails at start-up with a clear message.
      try {
        (void)matmul_pd(64, 64, 2, false, false, memory::desc());
      } catch (const dnnl::error&) {
        fail("cpu backend: bf16 compute is not implemented by oneDNN on this CPU (needs AVX-512 BF16 support); use --compute f32");
      }
    }
  }

  // Threads worth using for an op touching `work` bytes (or doing `work` multiply-adds).
  int team(double work) const { return work < kParallelWork ? 1 : threads_; }

  std::string name() const override { return "cpu"; }
  std::string describe() const override {
    const dnnl_version_t* v = dnnl_version();
    return cat("cpu: oneDNN ", v->major, ".", v->minor, ".", v->patch, ", ", cpu::cpu_isa_string(), ", ", threads_,
               " threads, compute ", compute_ == ComputeType::BF16 ? "bf16" : "f32", repack_ ? ", repacked weights" : "");
  }

  Tensor alloc(int64_t rows, int64_t cols, DType dt) override { return host_tensor(rows, cols, dt); }
  void upload(Tensor& dst, const float* src) override { std::memcpy(dst.data(), src, dst.bytes()); }
  void download(const Tensor& src, float* dst) override { cpu::convert_to_f32(src.dtype(), src.data(), dst, src.rows() * src.cols()); }
  std::unique_ptr<KvCache> create_kv_cache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt) override {
    return std::make_unique<HostKvCache>(n_layer, n_ctx, kv_dim, dt);
  }

  std::unique_ptr<Weight> load_weight(const WeightSource& src) override {
    auto w = std::make_unique<CpuWeight>(src);
    const bool bf16 = compute_ == ComputeType::BF16;
    if (!bf16 && !(repack_ && src.type == GgmlType::F32)) return w;
    // Reorder once: f32 (dequantized if needed) in GGUF layout -> oneDNN's preferred layout.
    const int kind = bf16 ? 2 : 1;
    auto pd = matmul_pd(src.cols, src.rows, kind, false, false, memory::desc());
    memory::desc want = pd.weights_desc();
    std::vector<float> plain(size_t(src.rows * src.cols));
    #pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < src.rows; n += 64)
      cpu::dequantize_rows(src.type, w->data, w->row_bytes, src.cols, n, std::min(n + 64, src.rows), plain.data() + n * src.cols);
    memory plain_mem({{src.cols, src.rows}, ddt::f32, tag::ba}, eng_, plain.data());
    w->packed = host_alloc(want.get_size());
    w->packed_md = want;
    memory packed_mem(want, eng_, w->packed.get());
    dnnl::reorder(plain_mem, packed_mem).execute(stream_, plain_mem, packed_mem);
    stream_.wait();
    release_source(src.data, w->row_bytes * size_t(src.rows));
    return w;
  }

  void embed(const Weight& table, const int32_t* ids, int64_t n, Tensor& x) override {
    const auto& w = static_cast<const CpuWeight&>(table);
    for (int64_t t = 0; t < n; ++t) {
      if (ids[t] < 0 || ids[t] >= w.rows()) fail("token id ", ids[t], " out of range [0, ", w.rows(), ")");
      cpu::dequantize_rows(w.source_type(), w.data, w.row_bytes, w.cols(), ids[t], ids[t] + 1, x.as<float>() + t * x.cols());
    }
  }

  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out) override {
    const int64_t C = x.cols();
    const int nt = team(double(x.rows() * C) * 8);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t t = 0; t < x.rows(); ++t) cpu::rmsnorm_row(x.as<float>() + t * C, w.as<float>(), eps, out.as<float>() + t * C, C);
  }

  void matmul(const Tensor& x, const Weight& weight, Tensor& y, const Tensor* bias, bool accumulate) override {
    const auto& w = static_cast<const CpuWeight&>(weight);
    const int64_t M = x.rows(), K = x.cols(), N = w.rows();
    if (K != w.cols() || y.rows() != M || y.cols() != N) fail("cpu matmul: shape mismatch");
    const float* b = bias ? bias->as<float>() : nullptr;
    // Decode-sized products, and products too small to repay oneDNN's threading, use the
    // AVX2 kernels (each weight row read once and applied to every row of x).
    const bool tiny = double(M) * double(N) * double(K) < 4.0 * 1024 * 1024;
    if ((M <= kSmallM || tiny) && !w.packed) {
      const int64_t chunk = 16;
      const int nt = team(double(w.row_bytes) * double(N) * double(M));
      #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
      for (int64_t n0 = 0; n0 < N; n0 += chunk)
        cpu::gemv_rows(w.source_type(), w.data, w.row_bytes, K, x.as<float>(), K, M, y.as<float>(), N, n0,
                       std::min(n0 + chunk, N), b, accumulate);
      return;
    }
    if (w.packed) {
      const int kind = compute_ == ComputeType::BF16 ? 2 : 1;
      run_matmul(x, memory(w.packed_md, eng_, w.packed.get()), kind, K, N, y, bias, accumulate);
      return;
    }
    const float* wf = reinterpret_cast<const float*>(w.data);
    if (w.source_type() != GgmlType::F32) {
      // Expand to f32 once per call; the cost is amortized over the M > 8 rows.
      scratch_.resize(size_t(N * K));
      #pragma omp parallel for schedule(static)
      for (int64_t n = 0; n < N; n += 64)
        cpu::dequantize_rows(w.source_type(), w.data, w.row_bytes, K, n, std::min(n + 64, N), scratch_.data() + n * K);
      wf = scratch_.data();
    }
    memory wm({{K, N}, ddt::f32, tag::ba}, eng_, const_cast<float*>(wf));
    run_matmul(x, wm, 0, K, N, y, bias, accumulate);
  }

  void rope(Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0) override {
    const float theta_scale = std::pow(s.rope_base, -2.0f / float(s.n_rot));
    const int64_t half = s.n_rot / 2;
    const int nt = team(double(x.rows() * x.cols()) * 16);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t t = 0; t < x.rows(); ++t) {
      float cs[1024];
      float theta = float(pos0 + t);
      for (int64_t i = 0; i < half; ++i) {
        cs[2 * i] = std::cos(theta);
        cs[2 * i + 1] = std::sin(theta);
        theta *= theta_scale;
      }
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x.as<float>() + t * x.cols() + h * s.head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t a = s.rope_style == RopeStyle::Interleaved ? 2 * i : i;
          const int64_t b = s.rope_style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
          const float c = cs[2 * i], sn = cs[2 * i + 1];
          const float x0 = v[a], x1 = v[b];
          v[a] = x0 * c - x1 * sn;
          v[b] = x0 * sn + x1 * c;
        }
      }
    }
  }

  void kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0) override {
    auto& c = static_cast<HostKvCache&>(cache);
    if (pos0 + k.rows() > c.n_ctx()) fail("KV cache overflow: position ", pos0 + k.rows(), " > context ", c.n_ctx());
    for (int64_t t = 0; t < k.rows(); ++t) {
      cpu::convert_from_f32(c.dtype(), k.as<float>() + t * k.cols(), c.k_row(layer, pos0 + t), c.kv_dim());
      cpu::convert_from_f32(c.dtype(), v.as<float>() + t * v.cols(), c.v_row(layer, pos0 + t), c.kv_dim());
    }
  }

  void attention(const Tensor& q, const KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s,
                 Tensor& out) override {
    const auto& c = static_cast<const HostKvCache&>(cache);
    const int64_t D = s.head_dim, group = s.n_head / s.n_head_kv, T = q.rows();
    const float scale = 1.0f / std::sqrt(float(D));
    const DType dt = c.dtype();
    const size_t row_bytes = size_t(c.kv_dim()) * dtype_size(dt);
    const char* kbase = static_cast<const char*>(c.k_row(layer, 0));
    const char* vbase = static_cast<const char*>(c.v_row(layer, 0));
    // work: every query row reads the keys and values before it
    const int nt = team(double(T) * double(pos0 + T) * double(s.n_head * D) * 4);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
      std::vector<float> scores(size_t(pos0 + T));
      float qh[1024];
      #pragma omp for collapse(2) schedule(dynamic, 4)
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t h = 0; h < s.n_head; ++h) {
          const int64_t n_ctx = pos0 + t + 1, kvh = h / group;
          std::memcpy(qh, q.as<float>() + t * q.cols() + h * D, size_t(D) * 4);
          round_to_dtype(dt, qh, D);
          for (int64_t p = 0; p < n_ctx; ++p)
            scores[size_t(p)] = cpu::dot_dtype(qh, dt, kbase + size_t(p) * row_bytes + size_t(kvh * D) * dtype_size(dt), D) * scale;
          cpu::softmax_row(scores.data(), scores.data(), n_ctx);
          round_to_dtype(dt, scores.data(), n_ctx);
          float* o = out.as<float>() + t * out.cols() + h * D;
          std::memset(o, 0, size_t(D) * 4);
          for (int64_t p = 0; p < n_ctx; ++p)
            cpu::axpy_dtype(scores[size_t(p)], dt, vbase + size_t(p) * row_bytes + size_t(kvh * D) * dtype_size(dt), o, D);
        }
      }
    }
  }

  void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    const int64_t C = gate.cols();
    const int nt = team(double(gate.rows() * C) * 12);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t t = 0; t < gate.rows(); ++t)
      cpu::swiglu_row(gate.as<float>() + t * C, up.as<float>() + t * C, out.as<float>() + t * C, C);
  }

  void add(Tensor& x, const Tensor& y) override {
    const int64_t n = x.rows() * x.cols();
    cpu::add_row(x.as<float>(), y.as<float>(), n);
  }

 private:
  // kind 0: f32 weights in plain 'ba' layout; 1: f32 weights in oneDNN's chosen layout;
  // 2: bf16 src/weights (chosen layout), f32 dst.
  dnnl::matmul::primitive_desc matmul_pd(int64_t K, int64_t N, int kind, bool bias, bool accumulate, const memory::desc&) {
    const ddt in = kind == 2 ? ddt::bf16 : ddt::f32;
    memory::desc src({DNNL_RUNTIME_DIM_VAL, K}, in, tag::ab);
    memory::desc wts = kind == 0 ? memory::desc({K, N}, ddt::f32, tag::ba) : memory::desc({K, N}, in, tag::any);
    memory::desc dst({DNNL_RUNTIME_DIM_VAL, N}, ddt::f32, tag::ab);
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    if (bias) {
      memory::desc bmd({1, N}, ddt::f32, tag::ab);
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wts, bmd, dst), attr, eng_);
    }
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wts, dst), attr, eng_);
  }

  void run_matmul(const Tensor& x, const memory& wm, int kind, int64_t K, int64_t N, Tensor& y, const Tensor* bias, bool accumulate) {
    const int64_t M = x.rows();
    PrimKey key{K, N, kind, bias != nullptr, accumulate};
    auto it = prims_.find(key);
    if (it == prims_.end()) it = prims_.emplace(key, dnnl::matmul(matmul_pd(K, N, kind, bias != nullptr, accumulate, memory::desc()))).first;
    void* src_ptr = x.data();
    if (kind == 2) {
      xbf16_.resize(size_t(M * K));
      cpu::convert_from_f32(DType::BF16, x.as<float>(), xbf16_.data(), M * K);
      src_ptr = xbf16_.data();
    }
    memory src({{M, K}, kind == 2 ? ddt::bf16 : ddt::f32, tag::ab}, eng_, src_ptr);
    memory dst({{M, N}, ddt::f32, tag::ab}, eng_, y.data());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dst}};
    if (bias) args.emplace(DNNL_ARG_BIAS, memory({{1, N}, ddt::f32, tag::ab}, eng_, bias->data()));
    it->second.execute(stream_, args);
    stream_.wait();
  }

  dnnl::engine eng_;
  dnnl::stream stream_;
  ComputeType compute_;
  bool repack_;
  int threads_ = 1;
  std::map<PrimKey, dnnl::matmul> prims_;
  std::vector<float> scratch_;
  std::vector<uint16_t> xbf16_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& opt) {
  const char* env = std::getenv("SPARKBENCH_CPU_REPACK");
  return std::make_unique<CpuBackend>(opt, env && std::string(env) == "1");
}

}  // namespace sb
