// CudaBackend: the Backend interface on one GPU (see cuda_backend.h for the contract).
// Host-side code only: memory, weight upload and repacking, shape checks, cuBLAS, CUDA graphs.
// The kernels are in elementwise.cu, gemv.cu and attention.cu (declared in cuda_kernels.h).
#include "engine/backends/cuda/plugin_abi.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_kernels.h"
#include "engine/backends/host.h"
#include "engine/core/error.h"
#include "engine/core/half.h"

namespace sb {
namespace {

bool device_available(std::string* why);

using cuda::Elem;
using cuda::PosArg;
using cuda::WeightView;
using cuda::WFmt;

// The raw-block WFmt of a GGUF type (cuda_kernels.h), or false for types without one.
bool block_fmt_of(GgmlType t, WFmt* f) {
  switch (t) {
    case GgmlType::Q4_1:
      *f = WFmt::Q4_1;
      return true;
    case GgmlType::Q5_0:
      *f = WFmt::Q5_0;
      return true;
    case GgmlType::Q5_1:
      *f = WFmt::Q5_1;
      return true;
    case GgmlType::IQ4_NL:
      *f = WFmt::IQ4_NL;
      return true;
    case GgmlType::Q2_K:
      *f = WFmt::Q2_K;
      return true;
    case GgmlType::Q3_K:
      *f = WFmt::Q3_K;
      return true;
    case GgmlType::Q4_K:
      *f = WFmt::Q4_K;
      return true;
    case GgmlType::Q5_K:
      *f = WFmt::Q5_K;
      return true;
    case GgmlType::Q6_K:
      *f = WFmt::Q6_K;
      return true;
    case GgmlType::IQ4_XS:
      *f = WFmt::IQ4_XS;
      return true;
    default:
      return false;
  }
}

Elem elem_of(DType t) {
  switch (t) {
    case DType::F32:
      return Elem::F32;
    case DType::F16:
      return Elem::F16;
    case DType::BF16:
      return Elem::BF16;
  }
  return Elem::F32;
}

// Device memory with shared ownership (the Tensor memory model). Zero-filled on `st`.
std::shared_ptr<void> device_alloc(size_t bytes, cudaStream_t st) {
  if (bytes == 0) bytes = 16;
  void* p = nullptr;
  SB_CUDA_CHECK(cudaMalloc(&p, bytes));
  std::shared_ptr<void> mem(p, [](void* q) { cudaFree(q); });  // errors at exit are ignored
  SB_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, st));
  return mem;
}

// Growable device scratch, reused across calls. Growing waits for the stream (the old buffer
// may still be read by queued work) and must not happen while a graph is being captured.
class Scratch {
 public:
  ~Scratch() {
    if (p_) cudaFree(p_);
  }
  void* get(size_t bytes, cudaStream_t st) {
    if (bytes > cap_) {
      SB_CUDA_CHECK(cudaStreamSynchronize(st));
      if (p_) SB_CUDA_CHECK(cudaFree(p_));
      p_ = nullptr;
      cap_ = 0;
      SB_CUDA_CHECK(cudaMalloc(&p_, bytes));
      cap_ = bytes;
    }
    return p_;
  }
  size_t capacity() const { return cap_; }

 private:
  void* p_ = nullptr;
  size_t cap_ = 0;
};

class CudaWeight : public Weight {
 public:
  CudaWeight(const WeightSource& s, WFmt fmt) : Weight(s.rows, s.cols, s.type), fmt_(fmt) {}
  size_t bytes() const override { return bytes_; }
  WeightView view() const { return WeightView{fmt_, data_.get(), static_cast<const uint16_t*>(scales_.get()), rows_, cols_}; }
  // WeightFormat::Int8PerChannel: data_ holds int8 rows of ld_ bytes, scales_ one f32 per row.
  cuda::Int8View int8_view() const {
    return cuda::Int8View{static_cast<const int8_t*>(data_.get()), static_cast<const float*>(scales_.get()), rows_, cols_, ld_};
  }
  void set_format(WeightFormat f) { format_ = f; }
  WFmt fmt_;
  std::shared_ptr<void> data_, scales_;
  size_t bytes_ = 0;
  int64_t ld_ = 0;
};

// K and V for every layer as (n_ctx, kv_dim) in dtype, laid out like HostKvCache, plus the
// split-K decode scratch (allocated on the first decode attention, sized by its shape).
class CudaKvCache : public KvCache {
 public:
  CudaKvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt, cudaStream_t st) : KvCache(n_layer, n_ctx, kv_dim, dt) {
    bytes_ = size_t(n_layer) * 2 * size_t(n_ctx) * size_t(kv_dim) * dtype_size(dt);
    mem_ = device_alloc(bytes_, st);
  }
  size_t bytes() const override { return bytes_; }
  void* layer(int64_t l, int which) const {
    return static_cast<char*>(mem_.get()) + (size_t(l) * 2 + size_t(which)) * size_t(n_ctx_) * size_t(kv_dim_) * dtype_size(dtype_);
  }
  std::shared_ptr<void> mem_;
  size_t bytes_;
  // decode scratch for (n_head, head_dim) = scratch_shape_
  std::shared_ptr<void> scratch_;
  int64_t scratch_heads_ = 0, scratch_dim_ = 0;
  cuda::DecodeScratch scratch_ptrs_;
};

class CudaStepGraph : public StepGraph {
 public:
  ~CudaStepGraph() override {
    if (exec_) cudaGraphExecDestroy(exec_);
  }
  cudaGraphExec_t exec_ = nullptr;
};

std::string version_string(int v, int div_major, int div_minor) {
  return std::to_string(v / div_major) + "." + std::to_string((v % div_major) / div_minor);
}

struct StreamDeleter {
  void operator()(CUstream_st* s) const { cudaStreamDestroy(s); }
};
struct CublasDeleter {
  void operator()(cublasContext* h) const { cublasDestroy(h); }
};
struct EventDeleter {
  void operator()(CUevent_st* e) const { cudaEventDestroy(e); }
};
struct PinnedDeleter {
  void operator()(void* p) const { cudaFreeHost(p); }
};

class CudaBackend : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& opt) : compute_(opt.compute) {
    std::string why;
    if (!device_available(&why)) fail("cuda: no CUDA device available (", why, ")");
    int n = 0;
    SB_CUDA_CHECK(cudaGetDeviceCount(&n));
    if (opt.device < 0 || opt.device >= n) fail("cuda: device ", opt.device, " not present (", n, " device(s))");
    device_ = opt.device;
    SB_CUDA_CHECK(cudaSetDevice(device_));
    SB_CUDA_CHECK(cudaGetDeviceProperties(&prop_, device_));
    if (prop_.major < 8)
      fail("cuda: ", prop_.name, " has compute capability ", prop_.major, ".", prop_.minor, "; the CUDA backend needs 8.0 or newer");
    cudaStream_t s = nullptr;
    SB_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    stream_.reset(s);
    cublasHandle_t h = nullptr;
    SB_CUBLAS_CHECK(cublasCreate(&h));
    cublas_.reset(h);
    SB_CUBLAS_CHECK(cublasSetStream(h, s));
    // No TF32: with CUBLAS_DEFAULT_MATH and CUBLAS_COMPUTE_32F, f32 GEMMs use full f32 FMAs.
    SB_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    cudaEvent_t e = nullptr;
    SB_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    ids_copied_.reset(e);
    SB_CUDA_CHECK(cudaEventRecord(e, s));
    cuda::attention_init();
    step_ = device_alloc(2 * sizeof(int32_t), s);
    const char* g = std::getenv("SPARKBENCH_CUDA_GRAPHS");
    graphs_ = !(g && std::string(g) == "0");
    const char* f = std::getenv("SPARKBENCH_CUDA_FUSED_INT8");
    fused_s8_ = !(f && std::string(f) == "0");
    SB_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  ~CudaBackend() override {
    if (stream_) cudaStreamSynchronize(stream_.get());  // no throwing from a destructor
  }

  cudaStream_t stream() const { return stream_.get(); }

  std::string name() const override { return "cuda"; }
  std::string describe() const override {
    int drv = 0, rt = 0, cub = 0;
    SB_CUDA_CHECK(cudaDriverGetVersion(&drv));
    SB_CUDA_CHECK(cudaRuntimeGetVersion(&rt));
    SB_CUBLAS_CHECK(cublasGetVersion(cublas_.get(), &cub));
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", double(prop_.totalGlobalMem) / double(1ull << 30));
    return cat("cuda: ", prop_.name, " (sm_", prop_.major, prop_.minor, ", ", prop_.multiProcessorCount, " SMs, ", mem, "), driver ",
               version_string(drv, 1000, 10), ", runtime ", version_string(rt, 1000, 10), ", cuBLAS ", cub / 10000, ".",
               (cub % 10000) / 100, ".", cub % 100, ", compute ", compute_ == ComputeType::BF16 ? "bf16" : "f32", ", decode graphs ",
               graphs_ ? "on" : "off");
  }

  // ---- memory ----
  Tensor alloc(int64_t rows, int64_t cols, DType dt) override {
    if (rows <= 0 || cols <= 0) fail("tensor shape (", rows, ", ", cols, ") must be positive");
    use_device();
    return Tensor(device_alloc(size_t(rows * cols) * dtype_size(dt), stream()), 0, rows, cols, dt);
  }

  void upload(Tensor& dst, const float* src) override {
    use_device();
    const int64_t n = dst.rows() * dst.cols();
    if (dst.dtype() == DType::F32) {
      SB_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src, size_t(n) * 4, cudaMemcpyHostToDevice, stream()));
    } else {
      std::vector<uint16_t> tmp(static_cast<size_t>(n));
      to_dtype(dst.dtype(), src, tmp.data(), n);
      SB_CUDA_CHECK(cudaMemcpyAsync(dst.data(), tmp.data(), size_t(n) * 2, cudaMemcpyHostToDevice, stream()));
      SB_CUDA_CHECK(cudaStreamSynchronize(stream()));  // before `tmp` goes away
      return;
    }
    // The caller may reuse `src` as soon as we return.
    SB_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  void download(const Tensor& src, float* dst) override {
    use_device();
    const int64_t n = src.rows() * src.cols();
    if (src.dtype() == DType::F32) {
      SB_CUDA_CHECK(cudaMemcpyAsync(dst, src.data(), size_t(n) * 4, cudaMemcpyDeviceToHost, stream()));
      SB_CUDA_CHECK(cudaStreamSynchronize(stream()));
    } else {
      std::vector<uint16_t> tmp(static_cast<size_t>(n));
      SB_CUDA_CHECK(cudaMemcpyAsync(tmp.data(), src.data(), size_t(n) * 2, cudaMemcpyDeviceToHost, stream()));
      SB_CUDA_CHECK(cudaStreamSynchronize(stream()));
      from_dtype(src.dtype(), tmp.data(), dst, n);
    }
  }

  void synchronize() override {
    use_device();
    SB_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  std::unique_ptr<Weight> load_weight(const WeightSource& src) override {
    use_device();
    if (src.rows <= 0 || src.cols <= 0 || !src.data) fail("cuda: weight '", src.name, "' has no data or a bad shape");
    if (src.format == WeightFormat::Int8PerChannel) return int8_weight(src);
    if (src.format != WeightFormat::Ggml)
      fail("cuda: weight '", src.name, "' is in the ", weight_format_name(src.format), " format, which this backend does not run");
    const int64_t N = src.rows, K = src.cols;
    const bool bf16 = compute_ == ComputeType::BF16;
    switch (src.type) {
      case GgmlType::F32:
        return dense(src, src.data, WFmt::F32, bf16);
      case GgmlType::F16:
        return dense(src, src.data, WFmt::F16, bf16);
      case GgmlType::BF16:
        return dense(src, src.data, WFmt::BF16, false);
      case GgmlType::Q8_0:
      case GgmlType::Q4_0:
        return quantized(src);
      default:
        break;
    }
    if (WFmt f; block_fmt_of(src.type, &f)) return raw_blocks(src, f);
    // A type this backend has no kernel for: dequantize on the host, then treat as f32.
    std::vector<float> f(size_t(N * K));
    const size_t row_bytes = size_t(ggml_row_bytes(src.type, K));
    for (int64_t r = 0; r < N; ++r)
      dequantize_row(src.type, static_cast<const uint8_t*>(src.data) + size_t(r) * row_bytes, f.data() + r * K, K);
    return dense(src, f.data(), WFmt::F32, bf16);
  }

  bool supports_format(WeightFormat f) const override { return f == WeightFormat::Ggml || f == WeightFormat::Int8PerChannel; }

  std::unique_ptr<KvCache> create_kv_cache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt) override {
    if (n_layer <= 0 || n_ctx <= 0 || kv_dim <= 0) fail("cuda: bad KV cache shape");
    if (n_ctx > 0x7fffffff) fail("cuda: context of ", n_ctx, " positions is too long");
    use_device();
    return std::make_unique<CudaKvCache>(n_layer, n_ctx, kv_dim, dt, stream());
  }

  // ---- ops ----
  void do_embed(const Weight& table, const int32_t* ids, int64_t n, Tensor& x) override {
    const auto& w = static_cast<const CudaWeight&>(table);
    require_f32(x, "embed output");
    if (x.cols() != w.cols() || n < 0 || n > x.rows()) fail("cuda embed: shape mismatch");
    for (int64_t t = 0; t < n; ++t)
      if (ids[t] < 0 || ids[t] >= w.rows()) fail("token id ", ids[t], " out of range [0, ", w.rows(), ")");
    if (n == 0) return;
    use_device();
    const int32_t* d_ids = nullptr;
    if (capturing_) {
      if (n != 1) fail("cuda: a recorded decode step embeds one token, not ", n);
      d_ids = static_cast<const int32_t*>(step_.get()) + 1;
    } else {
      // ids go through pinned memory; wait until the previous copy out of it has finished
      SB_CUDA_CHECK(cudaEventSynchronize(ids_copied_.get()));
      if (size_t(n) > ids_cap_) {
        SB_CUDA_CHECK(cudaStreamSynchronize(stream()));  // queued embeds may still read d_ids_
        void* h = nullptr;
        SB_CUDA_CHECK(cudaHostAlloc(&h, size_t(n) * 4, cudaHostAllocDefault));
        h_ids_.reset(h);
        d_ids_ = device_alloc(size_t(n) * 4, stream());
        ids_cap_ = size_t(n);
      }
      std::memcpy(h_ids_.get(), ids, size_t(n) * 4);
      SB_CUDA_CHECK(cudaMemcpyAsync(d_ids_.get(), h_ids_.get(), size_t(n) * 4, cudaMemcpyHostToDevice, stream()));
      SB_CUDA_CHECK(cudaEventRecord(ids_copied_.get(), stream()));
      d_ids = static_cast<const int32_t*>(d_ids_.get());
    }
    if (w.format() == WeightFormat::Int8PerChannel)
      cuda::embed_rows_s8(w.int8_view(), d_ids, n, x.as<float>(), stream());
    else
      cuda::embed_rows(w.view(), d_ids, n, x.as<float>(), stream());
  }

  void do_rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out) override {
    require_f32(x, "rmsnorm input");
    require_f32(w, "rmsnorm weight");
    require_f32(out, "rmsnorm output");
    if (w.rows() * w.cols() != x.cols() || out.rows() != x.rows() || out.cols() != x.cols()) fail("cuda rmsnorm: shape mismatch");
    use_device();
    cuda::rmsnorm(x.as<float>(), w.as<float>(), eps, out.as<float>(), x.rows(), x.cols(), stream());
  }

  void do_matmul(const Tensor& x, const Weight& weight, Tensor& y, const Tensor* bias, bool accumulate) override {
    const auto& w = static_cast<const CudaWeight&>(weight);
    require_f32(x, "matmul input");
    require_f32(y, "matmul output");
    const int64_t M = x.rows(), K = x.cols(), N = w.rows();
    if (K != w.cols() || y.rows() != M || y.cols() != N) fail("cuda matmul: shape mismatch");
    if (bias && (bias->dtype() != DType::F32 || bias->rows() * bias->cols() != N)) fail("cuda matmul: bias must be f32 (1, ", N, ")");
    if (M == 0) return;
    use_device();
    const float* b = bias ? bias->as<float>() : nullptr;
    if (w.format() == WeightFormat::Int8PerChannel) {
      matmul_s8(x, w, y, b, accumulate);
      return;
    }
    if (M <= cuda::kGemvMaxRows) {
      cuda::gemv(w.view(), x.as<float>(), M, y.as<float>(), b, accumulate, stream());
      return;
    }
    if (capturing_) fail("cuda: a recorded decode step cannot run a ", M, "-row matmul");
    gemm(x, w, y, accumulate);
    if (b) cuda::add_bias(y.as<float>(), b, M, N, stream());
  }

  void do_rope(Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0) override {
    require_f32(x, "rope input");
    if (n_heads * s.head_dim > x.cols() || s.n_rot > s.head_dim || s.n_rot < 0) fail("cuda rope: shape mismatch");
    use_device();
    const float theta_scale = std::pow(s.rope_base, -2.0f / float(s.n_rot));  // as the ref backend
    const float* ff = nullptr;
    if (!s.freq_factors.empty()) {
      require_f32(s.freq_factors, "rope freq_factors");
      if (s.freq_factors.rows() * s.freq_factors.cols() != s.n_rot / 2) fail("cuda rope: freq_factors size mismatch");
      ff = s.freq_factors.as<float>();
    }
    cuda::rope(x.as<float>(), x.rows(), x.cols(), n_heads, s.head_dim, s.n_rot, theta_scale, s.freq_scale, ff,
               s.rope_style == RopeStyle::NeoX, pos_arg(pos0, x.rows()), stream());
  }

  void do_kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0) override {
    auto& c = static_cast<CudaKvCache&>(cache);
    require_f32(k, "kv_store k");
    require_f32(v, "kv_store v");
    if (k.cols() != c.kv_dim() || v.cols() != c.kv_dim() || k.rows() != v.rows()) fail("cuda kv_store: shape mismatch");
    if (layer < 0 || layer >= c.n_layer()) fail("cuda kv_store: layer ", layer, " out of range");
    if (pos0 < 0 || pos0 + k.rows() > c.n_ctx()) fail("KV cache overflow: position ", pos0 + k.rows(), " > context ", c.n_ctx());
    use_device();
    cuda::kv_store(elem_of(c.dtype()), c.layer(layer, 0), c.layer(layer, 1), k.as<float>(), v.as<float>(), k.rows(), c.kv_dim(),
                   pos_arg(pos0, k.rows()), stream());
  }

  void do_attention(const Tensor& q, const KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s, Tensor& out) override {
    const auto& c = static_cast<const CudaKvCache&>(cache);
    require_f32(q, "attention q");
    require_f32(out, "attention output");
    const int64_t T = q.rows(), D = s.head_dim;
    if (s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0 || q.cols() != s.n_head * D || out.rows() != T || out.cols() != q.cols() ||
        c.kv_dim() != s.n_head_kv * D)
      fail("cuda attention: shape mismatch");
    if (layer < 0 || layer >= c.n_layer()) fail("cuda attention: layer ", layer, " out of range");
    if (pos0 < 0 || pos0 + T > c.n_ctx()) fail("cuda attention: positions up to ", pos0 + T, " exceed the cache's ", c.n_ctx());
    if (T == 0) return;
    use_device();
    cuda::AttnArgs a;
    a.kv_type = elem_of(c.dtype());
    a.q = q.as<float>();
    a.k_layer = c.layer(layer, 0);
    a.v_layer = c.layer(layer, 1);
    a.out = out.as<float>();
    a.T = T;
    a.n_ctx = c.n_ctx();
    a.kv_dim = c.kv_dim();
    a.n_head = s.n_head;
    a.group = s.n_head / s.n_head_kv;
    a.head_dim = D;
    a.scale = s.kq_scale();  // as the ref backend
    a.softcap = s.softcap;
    a.window = s.window;
    a.pos0 = pos_arg(pos0, T);
    if (T > 1) {
      cuda::attention_prefill(a, stream());
      return;
    }
    // Decode: chunk boundaries depend only on n_ctx, so a recording (all chunks launched, the
    // ones past the position idle) computes exactly what the direct call does.
    const cuda::DecodeScratch& sc = decode_scratch(const_cast<CudaKvCache&>(c), s.n_head, D);
    const int64_t n_split =
        capturing_ ? cuda::decode_splits(c.n_ctx()) : (pos0 + 1 + cuda::decode_chunk(c.n_ctx()) - 1) / cuda::decode_chunk(c.n_ctx());
    cuda::attention_decode(a, n_split, sc, stream());
  }

  void do_swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    require_f32(gate, "swiglu gate");
    require_f32(up, "swiglu up");
    require_f32(out, "swiglu output");
    const int64_t n = gate.rows() * gate.cols();
    if (up.rows() * up.cols() != n || out.rows() * out.cols() != n) fail("cuda swiglu: shape mismatch");
    use_device();
    cuda::swiglu(gate.as<float>(), up.as<float>(), out.as<float>(), n, stream());
  }

  void do_geglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    require_f32(gate, "geglu gate");
    require_f32(up, "geglu up");
    require_f32(out, "geglu output");
    const int64_t n = gate.rows() * gate.cols();
    if (up.rows() * up.cols() != n || out.rows() * out.cols() != n) fail("cuda geglu: shape mismatch");
    use_device();
    cuda::geglu(gate.as<float>(), up.as<float>(), out.as<float>(), n, stream());
  }

  void do_scale(Tensor& x, float s) override {
    require_f32(x, "scale x");
    use_device();
    cuda::scale_inplace(x.as<float>(), s, x.rows() * x.cols(), stream());
  }

  void do_softcap(Tensor& x, float cap) override {
    require_f32(x, "softcap x");
    if (!(cap > 0.0f)) fail("cuda softcap: cap must be positive");
    use_device();
    cuda::softcap_inplace(x.as<float>(), cap, x.rows() * x.cols(), stream());
  }

  void do_add(Tensor& x, const Tensor& y) override {
    require_f32(x, "add x");
    require_f32(y, "add y");
    const int64_t n = x.rows() * x.cols();
    if (y.rows() * y.cols() != n) fail("cuda add: shape mismatch");
    use_device();
    cuda::add_inplace(x.as<float>(), y.as<float>(), n, stream());
  }

  // ---- hooks ----
  void argmax_rows(const Tensor& logits, int32_t* out) override {
    require_f32(logits, "argmax input");
    const int64_t R = logits.rows();
    if (R == 0) return;
    use_device();
    if (capturing_) fail("cuda: argmax_rows cannot be recorded");
    int32_t* d = static_cast<int32_t*>(argmax_buf_.get(size_t(R) * 4, stream()));
    cuda::argmax_rows(logits.as<float>(), R, logits.cols(), d, stream());
    SB_CUDA_CHECK(cudaMemcpyAsync(out, d, size_t(R) * 4, cudaMemcpyDeviceToHost, stream()));
    SB_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  bool run_step_graph(std::unique_ptr<StepGraph>& graph, int32_t token, int64_t pos, const std::function<void()>& record) override {
    if (!graphs_ || capturing_) return false;
    if (!graph) {  // first step of this sequence runs directly: it sizes scratch buffers
      graph = std::make_unique<CudaStepGraph>();
      return false;
    }
    auto* g = dynamic_cast<CudaStepGraph*>(graph.get());
    if (!g) return false;
    if (pos < 0 || pos > 0x7fffffff) fail("cuda: position ", pos, " out of range");
    use_device();
    cuda::set_step(static_cast<int32_t*>(step_.get()), int32_t(pos), token, stream());
    if (!g->exec_) {
      SB_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
      capturing_ = true;
      capture_pos_ = pos;
      try {
        record();
      } catch (...) {
        capturing_ = false;
        cudaGraph_t broken = nullptr;
        cudaStreamEndCapture(stream(), &broken);
        if (broken) cudaGraphDestroy(broken);
        cudaGetLastError();  // clear the capture error, if any
        throw;
      }
      capturing_ = false;
      cudaGraph_t captured = nullptr;
      SB_CUDA_CHECK(cudaStreamEndCapture(stream(), &captured));
      const cudaError_t e = cudaGraphInstantiate(&g->exec_, captured, 0);
      cudaGraphDestroy(captured);
      if (e != cudaSuccess) g->exec_ = nullptr;
      SB_CUDA_CHECK(e);
    }
    SB_CUDA_CHECK(cudaGraphLaunch(g->exec_, stream()));
    return true;
  }

 private:
  static void require_f32(const Tensor& t, const char* what) {
    if (t.dtype() != DType::F32) fail("cuda backend: ", what, " must be f32");
  }

  void use_device() const {
    if (device_ != 0) SB_CUDA_CHECK(cudaSetDevice(device_));
  }

  // The position an op uses: the argument, or while recording a decode step, the step state on
  // the device (so the recording is valid at every position).
  PosArg pos_arg(int64_t pos0, int64_t rows) const {
    if (capturing_) {
      if (rows != 1 || pos0 != capture_pos_) fail("cuda: a recorded decode step must be one row at the recorded position");
      return PosArg{static_cast<const int32_t*>(step_.get()), 0};
    }
    if (pos0 < 0 || pos0 + rows > 0x7fffffff) fail("cuda: position ", pos0, " out of range");
    return PosArg{nullptr, int32_t(pos0)};
  }

  const cuda::DecodeScratch& decode_scratch(CudaKvCache& c, int64_t n_head, int64_t D) {
    if (c.scratch_ && c.scratch_heads_ == n_head && c.scratch_dim_ == D) return c.scratch_ptrs_;
    if (capturing_) fail("cuda: decode attention scratch must exist before a step is recorded");
    const int64_t ns = cuda::decode_splits(c.n_ctx());
    const size_t scores = size_t(n_head * c.n_ctx()), ml = size_t(n_head * ns * 2), part = size_t(n_head * ns * D);
    SB_CUDA_CHECK(cudaStreamSynchronize(stream()));  // an older scratch may still be in use
    c.scratch_ = device_alloc((scores + ml + part) * sizeof(float), stream());
    float* base = static_cast<float*>(c.scratch_.get());
    c.scratch_ptrs_ = cuda::DecodeScratch{base, base + scores, base + scores + ml};
    c.scratch_heads_ = n_head;
    c.scratch_dim_ = D;
    return c.scratch_ptrs_;
  }

  // Dense weight: uploaded as stored, or (to_bf16) converted to bf16 on the device.
  std::unique_ptr<Weight> dense(const WeightSource& src, const void* host, WFmt fmt, bool to_bf16) {
    const int64_t N = src.rows, K = src.cols;
    const size_t elem = fmt == WFmt::F32 ? 4 : 2;
    const size_t raw_bytes = size_t(N * K) * elem;
    auto w = std::make_unique<CudaWeight>(src, to_bf16 ? WFmt::BF16 : fmt);
    std::shared_ptr<void> raw = device_alloc(raw_bytes, stream());
    SB_CUDA_CHECK(cudaMemcpyAsync(raw.get(), host, raw_bytes, cudaMemcpyHostToDevice, stream()));
    if (to_bf16 && fmt != WFmt::BF16) {
      w->data_ = device_alloc(size_t(N * K) * 2, stream());
      cuda::dequantize(WeightView{fmt, raw.get(), nullptr, N, K}, w->data_.get(), Elem::BF16, stream());
      w->bytes_ = size_t(N * K) * 2;
    } else {
      w->data_ = raw;
      w->bytes_ = raw_bytes;
    }
    SB_CUDA_CHECK(cudaStreamSynchronize(stream()));  // `host` and `raw` may go away now
    return w;
  }

  // Int8PerChannel: rows copied into 16-byte aligned, zero-padded rows; f32 scales as given.
  std::unique_ptr<Weight> int8_weight(const WeightSource& src) {
    if (!src.scales) fail("cuda: int8 weight '", src.name, "' has no scales");
    const int64_t N = src.rows, K = src.cols, ld = (K + 15) / 16 * 16;
    std::vector<int8_t> rows(size_t(N * ld), 0);
    const auto* q = static_cast<const int8_t*>(src.data);
    for (int64_t n = 0; n < N; ++n) std::memcpy(&rows[size_t(n * ld)], q + n * K, size_t(K));
    auto w = std::make_unique<CudaWeight>(src, WFmt::F32);  // fmt_ unused for int8
    w->set_format(WeightFormat::Int8PerChannel);
    w->ld_ = ld;
    w->data_ = device_alloc(rows.size(), stream());
    w->scales_ = device_alloc(size_t(N) * 4, stream());
    SB_CUDA_CHECK(cudaMemcpyAsync(w->data_.get(), rows.data(), rows.size(), cudaMemcpyHostToDevice, stream()));
    SB_CUDA_CHECK(cudaMemcpyAsync(w->scales_.get(), src.scales, size_t(N) * 4, cudaMemcpyHostToDevice, stream()));
    SB_CUDA_CHECK(cudaStreamSynchronize(stream()));
    w->bytes_ = rows.size() + size_t(N) * 4;
    return w;
  }

  // int8 product: x quantized per token into q8scratch_ (rows padded like the weight's), then
  // exact int32 sums. Runs inside recorded decode steps once the first step has sized the scratch.
  void matmul_s8(const Tensor& x, const CudaWeight& w, Tensor& y, const float* bias, bool accumulate) {
    const int64_t M = x.rows(), ld = w.ld_;
    if (fused_s8_ && cuda::gemv_s8_fused(w.int8_view(), x.as<float>(), M, y.as<float>(), bias, accumulate, stream())) return;
    const size_t qbytes = size_t(M * ld), need = qbytes + size_t(M) * 4 + 16;
    if (capturing_ && need > q8scratch_.capacity()) fail("cuda: int8 scratch must be sized before a step is recorded");
    char* base = static_cast<char*>(q8scratch_.get(need, stream()));
    auto* q = reinterpret_cast<int8_t*>(base);
    auto* d = reinterpret_cast<float*>(base + (qbytes + 15) / 16 * 16);
    cuda::quantize_rows_s8(x.as<float>(), M, x.cols(), ld, q, d, stream());
    cuda::gemm_s8(w.int8_view(), q, d, ld, M, y.as<float>(), bias, accumulate, stream());
  }

  // Q8_0 / Q4_0: blocks split into a scale array and 16-byte aligned rows of quants.
  std::unique_ptr<Weight> quantized(const WeightSource& src) {
    const int64_t N = src.rows, K = src.cols;
    if (K % kQK != 0) fail("cuda: weight '", src.name, "' has ", K, " columns, not a multiple of ", kQK);
    const bool q8 = src.type == GgmlType::Q8_0;
    const int64_t nb = K / kQK;
    const size_t qrow = size_t(q8 ? K : K / 2);
    std::vector<uint16_t> scales(size_t(N * nb));
    std::vector<uint8_t> quants(size_t(N) * qrow);
    const auto* base = static_cast<const uint8_t*>(src.data);
    const size_t bb = size_t(ggml_block_bytes(src.type)), qbytes = bb - 2;  // f16 scale first
    for (int64_t n = 0; n < N; ++n)
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = base + (size_t(n) * size_t(nb) + size_t(b)) * bb;
        std::memcpy(&scales[size_t(n * nb + b)], blk, 2);
        std::memcpy(&quants[size_t(n) * qrow + size_t(b) * qbytes], blk + 2, qbytes);
      }
    auto w = std::make_unique<CudaWeight>(src, q8 ? WFmt::Q8_0 : WFmt::Q4_0);
    w->scales_ = device_alloc(scales.size() * 2, stream());
    w->data_ = device_alloc(quants.size(), stream());
    SB_CUDA_CHECK(cudaMemcpyAsync(w->scales_.get(), scales.data(), scales.size() * 2, cudaMemcpyHostToDevice, stream()));
    SB_CUDA_CHECK(cudaMemcpyAsync(w->data_.get(), quants.data(), quants.size(), cudaMemcpyHostToDevice, stream()));
    SB_CUDA_CHECK(cudaStreamSynchronize(stream()));
    w->bytes_ = scales.size() * 2 + quants.size();
    return w;
  }

  // The block formats from Q4_1 on: the rows uploaded exactly as the file stores them.
  std::unique_ptr<Weight> raw_blocks(const WeightSource& src, WFmt fmt) {
    const int64_t N = src.rows, K = src.cols, be = ggml_block_size(src.type);
    if (be <= 0 || K % be != 0)
      fail("cuda: weight '", src.name, "' (", ggml_type_label(uint32_t(src.type)), ") has ", K, " columns, not a multiple of its block of ",
           be);
    const size_t bytes = size_t(N) * size_t(ggml_row_bytes(src.type, K));
    auto w = std::make_unique<CudaWeight>(src, fmt);
    w->data_ = device_alloc(bytes, stream());
    SB_CUDA_CHECK(cudaMemcpyAsync(w->data_.get(), src.data, bytes, cudaMemcpyHostToDevice, stream()));
    SB_CUDA_CHECK(cudaStreamSynchronize(stream()));
    w->bytes_ = bytes;
    return w;
  }

  // y(M, N) = x(M, K) . W^T (+ y) through cuBLAS. Row-major y^T = W . x^T is column-major
  // C(N, M) = op(A)(N, K) . B(K, M) with A = W stored (K, N) column-major (transposed).
  void gemm(const Tensor& x, const CudaWeight& w, Tensor& y, bool accumulate) {
    const int64_t M = x.rows(), K = x.cols(), N = w.rows();
    if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) fail("cuda matmul: dimensions too large for cuBLAS");
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    const WeightView v = w.view();
    if (compute_ == ComputeType::F32) {
      const void* W = v.data;
      if (v.fmt != WFmt::F32) {  // exact f32 copy of the weight, then a plain f32 GEMM
        void* tmp = wscratch_.get(size_t(N * K) * 4, stream());
        cuda::dequantize(v, tmp, Elem::F32, stream());
        W = tmp;
      }
      SB_CUBLAS_CHECK(cublasGemmEx(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(M), int(K), &alpha, W, CUDA_R_32F, int(K), x.data(),
                                   CUDA_R_32F, int(K), &beta, y.data(), CUDA_R_32F, int(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      return;
    }
    // bf16 tensor cores, f32 accumulation and output
    const void* W = v.data;
    if (v.fmt != WFmt::BF16) {
      void* tmp = wscratch_.get(size_t(N * K) * 2, stream());
      cuda::dequantize(v, tmp, Elem::BF16, stream());
      W = tmp;
    }
    void* xb = xscratch_.get(size_t(M * K) * 2, stream());
    cuda::f32_to_elem(x.as<float>(), xb, Elem::BF16, M * K, stream());
    SB_CUBLAS_CHECK(cublasGemmEx(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(M), int(K), &alpha, W, CUDA_R_16BF, int(K), xb,
                                 CUDA_R_16BF, int(K), &beta, y.data(), CUDA_R_32F, int(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }

  ComputeType compute_;
  int device_ = 0;
  cudaDeviceProp prop_{};
  std::unique_ptr<CUstream_st, StreamDeleter> stream_;
  std::unique_ptr<cublasContext, CublasDeleter> cublas_;
  std::unique_ptr<CUevent_st, EventDeleter> ids_copied_;
  std::unique_ptr<void, PinnedDeleter> h_ids_;
  std::shared_ptr<void> d_ids_;
  size_t ids_cap_ = 0;
  std::shared_ptr<void> step_;  // int32 {pos, token} read by recorded decode steps
  Scratch wscratch_, xscratch_, argmax_buf_, q8scratch_;
  bool fused_s8_ = true;  // SPARKBENCH_CUDA_FUSED_INT8=0: decode int8 products as two launches
  bool graphs_ = true;
  bool capturing_ = false;
  int64_t capture_pos_ = 0;
};

}  // namespace

namespace {

bool device_available(std::string* why) {
  static std::once_flag once;
  static bool ok = false;
  static std::string reason;
  std::call_once(once, [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      reason = cat("cudaGetDeviceCount: ", cudaGetErrorString(e));
    } else if (n == 0) {
      reason = "cudaGetDeviceCount: 0 devices";
    } else {
      ok = true;
    }
  });
  if (!ok && why) *why = reason;
  return ok;
}

Backend* make_backend(const BackendOptions& opt, std::string* error) {
  try {
    return new CudaBackend(opt);
  } catch (const std::exception& e) {
    *error = e.what();
  } catch (...) {
    *error = "cuda: unknown error while creating the backend";
  }
  return nullptr;
}

void* stream_of(Backend& b) {
  auto* c = dynamic_cast<CudaBackend*>(&b);
  return c ? static_cast<void*>(c->stream()) : nullptr;
}

}  // namespace
}  // namespace sb

extern "C" __attribute__((visibility("default"))) const sb::CudaPluginV1* sparkbench_cuda_plugin_v1() {
  static const sb::CudaPluginV1 table = {sizeof(sb::CudaPluginV1), sizeof(sb::BackendOptions), &sb::make_backend, &sb::device_available,
                                         &sb::stream_of};
  return &table;
}
