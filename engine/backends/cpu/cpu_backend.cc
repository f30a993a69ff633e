#include "engine/backends/cpu/cpu_backend.h"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/onednn_isa.h"
#include "engine/backends/cpu/qdot.h"
#include "engine/backends/cpu/qgemm.h"
#include "engine/backends/cpu/qgemv.h"
#include "engine/backends/cpu/share.h"
#include "engine/backends/cpu_isa.h"
#include "engine/backends/host.h"
#include "engine/core/env.h"
#include "engine/core/error.h"
#include "engine/core/mmap_file.h"

namespace sb {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using ddt = memory::data_type;

constexpr int64_t kSmallM = 8;  // products with at most this many rows use the AVX2 kernels
// Below this much work (bytes touched or multiply-adds) an op runs on one thread: waking the
// OpenMP team costs more than it saves.
constexpr double kParallelWork = 256 * 1024;
// The fused decode attention block (do_attention_block) replaces work that otherwise runs on one
// thread between two regions (attention at short contexts, a small output projection), so it
// takes the team from a lower amount of work.
constexpr double kFusedParallelWork = 64 * 1024;

class CpuWeight : public Weight {
 public:
  CpuWeight(const WeightSource& s) : Weight(s.rows, s.cols, s.type), data(static_cast<const uint8_t*>(s.data)), file_pages(s.file_pages) {
    format_ = s.format;
    row_bytes = format_ == WeightFormat::Int8PerChannel ? size_t(s.cols) : size_t(ggml_row_bytes(s.type, s.cols));
  }
  size_t bytes() const override {
    if (format_ == WeightFormat::Int8PerChannel)
      return size_t(rows_) * (size_t(kpad) + 4) + (packed ? packed_md.get_size() + size_t(rows_) * 4 : 0);
    return (packed ? packed_md.get_size() : row_bytes * size_t(rows_)) + qpacked_bytes + vpacked_bytes;
  }
  const uint8_t* data;
  size_t row_bytes;
  std::shared_ptr<void> resident;  // the copy `data` points into (make_resident), if any
  bool file_pages = false;         // `data` lies in a file mapping (WeightSource::file_pages)
  // Set when the weight was reordered into a oneDNN layout (repack, bf16 compute, or int8 on a
  // CPU with VNNI: s8 weights for oneDNN's u8 x s8 matmul).
  std::shared_ptr<void> packed;
  memory::desc packed_md;
  // Int8PerChannel: rows padded with zeros to kpad bytes, one f32 scale per row; colsum[n] =
  // sum_k q[n][k] (the u8 shift's compensation on the oneDNN path).
  std::shared_ptr<void> q8;
  int64_t kpad = 0;
  std::vector<float> scales;
  std::vector<int32_t> colsum;
  const int8_t* q8_data() const { return static_cast<const int8_t*>(q8.get()); }
  // --compute q8 prefill: the weight repacked for the blocked GEMM (cpu/qgemm.h) on its first
  // product with M > 8 rows (so weights only ever used for decode, such as the output
  // projection, are never repacked), kept beside the original (which decode reads).
  bool qgemm_ok = false;  // a supported type under --compute q8
  mutable std::once_flag qpack_once;
  mutable std::shared_ptr<void> qpacked;
  mutable size_t qpacked_bytes = 0;
  // --compute q8 decode: the weight repacked into 16-row groups for the GEMV (cpu/qgemv.h) on
  // its first product with M <= 8 rows, kept beside the original (which prefill reads when it
  // has no blocked-GEMM form).
  bool qgemv_ok = false;  // --compute q8 decode takes the GEMV: on, cpu::qgemv_pays(type, level), whole blocks
  mutable std::once_flag vpack_once;
  mutable std::shared_ptr<void> vpacked;
  mutable size_t vpacked_bytes = 0;
};

struct PrimKey {
  int64_t k, n;
  int kind;  // 0 plain f32 'ba', 1 packed (desc below), 2 bf16 packed, 3 u8 x s8 -> s32 packed,
             // 4 f32 'ba' tile of M = m rows into a plain dst
  bool bias, accumulate;
  int64_t ldd = 0;
  int64_t m = 0;  // a fixed M (0: the primitive takes any M at run time)
  bool operator<(const PrimKey& o) const {
    return std::tie(k, n, kind, bias, accumulate, ldd, m) < std::tie(o.k, o.n, o.kind, o.bias, o.accumulate, o.ldd, o.m);
  }
};

// The source's file pages (WeightSource::file_pages), once the backend keeps its own copy.
void release_source(const WeightSource& src, size_t bytes) {
  if (src.file_pages) release_file_pages(src.data, bytes);
}

// The fused feed-forward's activation of columns [n0, n1) of M rows of gate (ld F), in place:
// GeGLU (gelu_tanh(g) * u) or SwiGLU, the same per-element arithmetic as do_geglu / do_swiglu.
void activate_columns(float* gp, const float* up, int64_t M, int64_t F, int64_t n0, int64_t n1, bool geglu) {
  for (int64_t r = 0; r < M; ++r) {
    float* gr = gp + r * F + n0;
    const float* ur = up + r * F + n0;
    if (geglu)
      for (int64_t i = 0; i < n1 - n0; ++i) gr[i] = gelu_tanh(gr[i]) * ur[i];
    else
      cpu::swiglu_row(gr, ur, gr, n1 - n0);
  }
}

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& opt, bool repack)
      // oneDNN's ISA is capped (SPARKBENCH_CPU_ISA) before the engine and any primitive exist
      : eng_((cpu::cap_onednn_isa(), dnnl::engine(dnnl::engine::kind::cpu, 0))), stream_(eng_), compute_(opt.compute), repack_(repack) {
    if (!cpu::cpu_supported()) fail("cpu backend: this CPU lacks AVX2/FMA/F16C (use --backend ref)");
    isa_ = cpu::active_isa();  // fails on a SPARKBENCH_CPU_ISA the CPU lacks
    qdot_ = &cpu::qdot_kernels(isa_);
    if (compute_ == ComputeType::Q8) {
      if (env_choice("SPARKBENCH_CPU_QGEMM", {"0", "1"}, 1) == 1) qgemm_ = &cpu::qgemm_kernels(isa_);
      if (env_choice("SPARKBENCH_CPU_QGEMV", {"0", "1"}, 1) == 1) qgemv_ = &cpu::qgemv_kernels(isa_);
    }
    threads_ = opt.threads > 0 ? opt.threads : omp_get_num_procs();
    omp_set_num_threads(threads_);
    // oneDNN's int8 matmul is exact only with VNNI: without it (AVX2) it sums u8 x s8 pairs in
    // saturating 16-bit arithmetic (measured: wrong results for full-range 8-bit inputs), so
    // there the int8 format runs on this project's AVX2 kernel, which is exact.
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    int8_dnnl_ = isa == dnnl::cpu_isa::avx2_vnni || isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
                 isa == dnnl::cpu_isa::avx512_core_amx;
    const int int8 = env_choice("SPARKBENCH_CPU_INT8", {"avx2", "onednn"}, -1);
    if (int8 == 0)
      int8_dnnl_ = false;
    else if (int8 == 1 && !int8_dnnl_)
      fail("SPARKBENCH_CPU_INT8=onednn: oneDNN's int8 matmul saturates on this CPU (no VNNI)");
    constexpr QPrefill kPrefill[] = {QPrefill::OnednnTiles, QPrefill::Avx2Tiles, QPrefill::Expand};
    qprefill_ = kPrefill[env_choice("SPARKBENCH_CPU_QPREFILL", {"onednn_tiles", "avx2_tiles", "expand"}, 0)];
    if (const char* e = std::getenv("SPARKBENCH_CPU_STATS"); e && std::string(e) == "1") stats_ = true;
    fuse_ = env_choice("SPARKBENCH_CPU_FUSE", {"0", "1"}, 1) == 1;
    // read (and a bad value reported) here, never first inside a parallel region
    (void)cpu::static_split();
    (void)host_hugepages();
    if (compute_ == ComputeType::BF16) {
      // Probe once so an unsupported CPU fails at start-up with a clear message.
      try {
        (void)matmul_pd(64, 64, 2, false, false, memory::desc());
      } catch (const dnnl::error&) {
        fail("cpu backend: bf16 compute is not implemented by oneDNN at ISA ", cpu::onednn_isa_name(),
             " (needs AVX-512 BF16 on the CPU, and SPARKBENCH_CPU_ISA, if set, at avx512bf16); use --compute f32");
      }
    }
  }

  ~CpuBackend() override {
    if (stats_)
      std::fprintf(stderr, "cpu backend: %llu parallel regions (sync points) over %llu forward passes: %.1f per pass\n",
                   (unsigned long long)regions_, (unsigned long long)passes_, passes_ ? double(regions_) / double(passes_) : 0.0);
  }

  // Threads worth using for an op touching `work` bytes (or doing `work` multiply-adds).
  int team(double work) const { return work < kParallelWork ? 1 : threads_; }
  // Called before every parallel region the backend opens (nt > 1 threads): each is a fork and
  // a join barrier, the sync points SPARKBENCH_CPU_STATS=1 reports.
  void count_region(int nt) { regions_ += nt > 1; }

  std::string name() const override { return "cpu"; }
  std::string describe() const override {
    const dnnl_version_t* v = dnnl_version();
    return cat("cpu: oneDNN ", v->major, ".", v->minor, ".", v->patch, " (isa ", cpu::onednn_isa_name(), "), isa ", cpu::isa_name(isa_),
               " (cpu: ", cpu::cpu_features_string(), "), ", threads_, " threads, compute ",
               compute_ == ComputeType::BF16 ? "bf16"
               : compute_ == ComputeType::Q8 ? "q8"
                                             : "f32",
               repack_ ? ", repacked weights" : "", ", int8 prefill ", int8_dnnl_ ? "oneDNN u8s8 (VNNI)" : "AVX2 kernel (no VNNI)",
               ", block-weight prefill ",
               qprefill_ == QPrefill::OnednnTiles ? "oneDNN tiles"
               : qprefill_ == QPrefill::Avx2Tiles ? "AVX2 tiles"
                                                  : "expanded",
               qgemm_ ? ", q8 prefill blocked int8 GEMM (repacked weights)" : "",
               qgemv_ ? cat(", q8 decode row-interleaved GEMV (", qgemv_types(), " repacked)") : "");
  }
  // The types the decode GEMV takes at this level (cpu::qgemv_pays), e.g. "q4_0/q4_1/q5_0/q5_1".
  std::string qgemv_types() const {
    std::string s;
    for (GgmlType t : cpu::qgemv_type_list())
      if (cpu::qgemv_pays(t, isa_)) s += cat(s.empty() ? "" : "/", ggml_type_name(uint32_t(t)));
    return s;
  }

  Tensor alloc(int64_t rows, int64_t cols, DType dt) override { return host_tensor(rows, cols, dt); }
  void upload(Tensor& dst, const float* src) override { std::memcpy(dst.data(), src, dst.bytes()); }
  void download(const Tensor& src, float* dst) override { cpu::convert_to_f32(src.dtype(), src.data(), dst, src.rows() * src.cols()); }
  std::unique_ptr<KvCache> create_kv_cache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt) override {
    return std::make_unique<HostKvCache>(n_layer, n_ctx, kv_dim, dt);
  }

  bool supports_format(WeightFormat) const override { return true; }

  std::unique_ptr<Weight> load_weight(const WeightSource& src) override {
    auto w = std::make_unique<CpuWeight>(src);
    if (src.format == WeightFormat::Int8PerChannel) {
      load_int8(*w, src);
      return w;
    }
    w->qgemm_ok = qgemm_ && cpu::qgemm_supported(src.type) && src.cols % kQK == 0;
    // the GEMV where it beats qdot's kernels at this level (qgemv_pays says where, measured)
    w->qgemv_ok = qgemv_ && cpu::qgemv_pays(src.type, isa_) && src.cols % kQK == 0;
    const bool bf16 = compute_ == ComputeType::BF16;
    if (!bf16 && !(repack_ && src.type == GgmlType::F32)) {
      if (!w->qgemv_ok) make_resident(*w, src);
      return w;
    }
    // Reorder once: f32 (dequantized if needed) in GGUF layout -> oneDNN's preferred layout.
    const int kind = bf16 ? 2 : 1;
    auto pd = matmul_pd(src.cols, src.rows, kind, false, false, memory::desc());
    memory::desc want = pd.weights_desc();
    std::vector<float> plain(size_t(src.rows * src.cols));
    count_region(threads_);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < src.rows; n += 64)
      cpu::dequantize_rows(src.type, w->data, w->row_bytes, src.cols, n, std::min(n + 64, src.rows), plain.data() + n * src.cols);
    memory plain_mem({{src.cols, src.rows}, ddt::f32, tag::ba}, eng_, plain.data());
    w->packed = host_alloc_weight(want.get_size());
    w->packed_md = want;
    memory packed_mem(want, eng_, w->packed.get());
    dnnl::reorder(plain_mem, packed_mem).execute(stream_, plain_mem, packed_mem);
    stream_.wait();
    release_source(src, w->row_bytes * size_t(src.rows));
    return w;
  }

  void do_embed(const Weight& table, const int32_t* ids, int64_t n, Tensor& x) override {
    const auto& w = static_cast<const CpuWeight&>(table);
    ++passes_;  // one embed per forward pass (engine/model/forward.cc)
    for (int64_t t = 0; t < n; ++t) {
      if (ids[t] < 0 || ids[t] >= w.rows()) fail("token id ", ids[t], " out of range [0, ", w.rows(), ")");
      if (w.format() == WeightFormat::Int8PerChannel) {
        const int8_t* q = w.q8_data() + ids[t] * w.kpad;
        float* o = x.as<float>() + t * x.cols();
        for (int64_t k = 0; k < w.cols(); ++k) o[k] = w.scales[size_t(ids[t])] * float(q[k]);
        continue;
      }
      cpu::dequantize_rows(w.source_type(), w.data, w.row_bytes, w.cols(), ids[t], ids[t] + 1, x.as<float>() + t * x.cols());
    }
  }

  void do_rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out) override {
    const int64_t C = x.cols();
    const int nt = team(double(x.rows() * C) * 8);
    count_region(nt);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t t = 0; t < x.rows(); ++t) cpu::rmsnorm_row(x.as<float>() + t * C, w.as<float>(), eps, out.as<float>() + t * C, C);
  }

  void do_matmul(const Tensor& x, const Weight& weight, Tensor& y, const Tensor* bias, bool accumulate) override {
    const auto& w = static_cast<const CpuWeight&>(weight);
    const int64_t M = x.rows(), K = x.cols(), N = w.rows();
    if (K != w.cols() || y.rows() != M || y.cols() != N) fail("cpu matmul: shape mismatch");
    const float* b = bias ? bias->as<float>() : nullptr;
    if (w.format() == WeightFormat::Int8PerChannel) {
      matmul_int8(x, w, y, b, accumulate);
      return;
    }
    if (M > kSmallM && w.qgemm_ok) {  // prefill: blocked integer GEMM (cpu/qgemm.h)
      matmul_qgemm(x, w, y, b, accumulate);
      return;
    }
    if (compute_ == ComputeType::Q8 && !w.packed && cpu::q8_act_kind(w.source_type()) != 0) {
      matmul_q8(x, w, y, b, accumulate);
      return;
    }
    // Decode-sized products, and products too small to repay oneDNN's threading, use the
    // AVX2 kernels (each weight row read once and applied to every row of x).
    const bool tiny = double(M) * double(N) * double(K) < 4.0 * 1024 * 1024;
    if ((M <= kSmallM || tiny) && !w.packed) {
      const int64_t chunk = 16;
      const int nt = team(double(w.row_bytes) * double(N) * double(M));
      std::atomic<int64_t> taken{0};
      count_region(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
      cpu::share_items((N + chunk - 1) / chunk, cpu::claim_items(double(w.row_bytes) * chunk), taken, [&](int64_t c0, int64_t c1) {
        cpu::gemv_rows(w.source_type(), w.data, w.row_bytes, K, x.as<float>(), K, M, y.as<float>(), N, c0 * chunk, std::min(c1 * chunk, N),
                       b, accumulate);
      });
      return;
    }
    if (w.packed) {
      const int kind = compute_ == ComputeType::BF16 ? 2 : 1;
      run_matmul(x, memory(w.packed_md, eng_, w.packed.get()), kind, K, N, y, bias, accumulate);
      return;
    }
    const float* wf = reinterpret_cast<const float*>(w.data);
    if (w.source_type() != GgmlType::F32 && qprefill_ == QPrefill::OnednnTiles) {
      matmul_tiles(x, w, y, bias, accumulate);
      return;
    }
    if (w.source_type() != GgmlType::F32 && qprefill_ == QPrefill::Avx2Tiles) {
      // Each thread dequantizes a tile of kTileRows weight rows into cache and multiplies it by
      // all M rows with the AVX2 kernel.
      const int64_t chunk = cpu::kTileRows;
      count_region(threads_);
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t n0 = 0; n0 < N; n0 += chunk)
        cpu::gemm_rows_tiled(w.source_type(), w.data, w.row_bytes, K, x.as<float>(), K, M, y.as<float>(), N, n0, std::min(n0 + chunk, N), b,
                             accumulate);
      return;
    }
    if (w.source_type() != GgmlType::F32) {
      // Expand to f32 once per call; the cost is amortized over the M > 8 rows.
      scratch_.resize(size_t(N * K));
      count_region(threads_);
#pragma omp parallel for schedule(static)
      for (int64_t n = 0; n < N; n += 64)
        cpu::dequantize_rows(w.source_type(), w.data, w.row_bytes, K, n, std::min(n + 64, N), scratch_.data() + n * K);
      wf = scratch_.data();
    }
    memory wm({{K, N}, ddt::f32, tag::ba}, eng_, const_cast<float*>(wf));
    run_matmul(x, wm, 0, K, N, y, bias, accumulate);
  }

  // Decode-sized products (M <= kSmallM) sharing x, all on the same kernel family (plain
  // gemv, q8 integer products with one activation format, or int8 weights): x is prepared once
  // (quantized for q8 / int8) and one parallel region runs every product, the weight rows of all
  // of them split among the threads by bytes. Anything else: one do_matmul per product.
  void do_matmul_multi(const Tensor& x, const MatmulOut* outs, int n) override {
    const int64_t M = x.rows(), K = x.cols();
    enum Path { kNone = -1, kPlain, kQ8, kInt8 };
    int path = kNone, act = 0;
    bool fused = fuse_ && M <= kSmallM && n > 1;
    for (int i = 0; i < n && fused; ++i) {
      const auto& w = static_cast<const CpuWeight&>(*outs[i].w);
      int p = kPlain;
      if (w.format() == WeightFormat::Int8PerChannel)
        p = kInt8;
      else if (w.packed)
        fused = false;
      else if (compute_ == ComputeType::Q8 && cpu::q8_act_kind(w.source_type()) != 0) {
        p = kQ8;
        const int a = cpu::q8_act_kind(w.source_type());
        if (act != 0 && a != act) fused = false;
        act = a;
      }
      if (path != kNone && p != path) fused = false;
      path = p;
    }
    if (!fused) {
      Backend::do_matmul_multi(x, outs, n);
      return;
    }
    const GgmlType qt = static_cast<const CpuWeight&>(*outs[0].w).source_type();
    size_t xb = 0;
    const int64_t kp = cpu::int8_padded(K);
    if (path == kQ8) {
      xb = cpu::q8_act_row_bytes(qt, K);
      xqm_.resize(size_t(M) * xb);
      for (int64_t r = 0; r < M; ++r) qdot_->quantize(qt, x.as<float>() + r * K, xqm_.data() + size_t(r) * xb, K);
      bool gemv = false;
      for (int i = 0; i < n; ++i) {
        const auto& w = static_cast<const CpuWeight&>(*outs[i].w);
        ensure_qgemv(w);
        gemv = gemv || w.qgemv_ok;
      }
      if (gemv) {
        xsum_.resize(size_t(M * (K / kQK)));
        cpu::qgemv_act_sums(qt, xqm_.data(), xb, M, K, xsum_.data());
      }
    } else if (path == kInt8) {
      xq_.resize(size_t(M * kp));
      xd_.resize(size_t(M));
      for (int64_t t = 0; t < M; ++t) xd_[size_t(t)] = cpu::quantize_row_s8(x.as<float>() + t * K, xq_.data() + t * kp, K, kp);
    }
    // chunks of 16 weight rows (whole GEMV groups); c0 = bytes of weights before the chunk
    static_assert(cpu::kGemvRows == 16);
    multi_tasks_.clear();
    double total = 0;
    for (int i = 0; i < n; ++i) {
      const auto& w = static_cast<const CpuWeight&>(*outs[i].w);
      const double rb = path == kInt8 ? double(kp) : double(w.row_bytes);
      for (int64_t n0 = 0; n0 < w.rows(); n0 += 16) {
        const int64_t n1 = std::min(n0 + 16, w.rows());
        multi_tasks_.push_back({i, n0, n1, total});
        total += rb * double(n1 - n0);
      }
    }
    const float* xf = x.as<float>();
    auto run = [&](const MultiTask& t) {
      const MatmulOut& o = outs[t.i];
      const auto& w = static_cast<const CpuWeight&>(*o.w);
      float* y = o.y->as<float>();
      const float* b = o.bias ? o.bias->as<float>() : nullptr;
      const int64_t N = w.rows();
      if (path == kQ8)  // chunks are whole 16-row groups (n0 a multiple of 16)
        q8_rows(w, xqm_.data(), xb, xsum_.data(), M, y, t.n0, t.n1, b, false);
      else if (path == kInt8)
        cpu::gemm_s8_rows(xq_.data(), xd_.data(), M, w.q8_data(), w.scales.data(), kp, y, N, t.n0, t.n1, b, false);
      else
        cpu::gemv_rows(w.source_type(), w.data, w.row_bytes, K, xf, K, M, y, N, t.n0, t.n1, b, false);
    };
    const int nt = team(total * double(M));
    count_region(nt);
    const int64_t nk = int64_t(multi_tasks_.size());
    std::atomic<int64_t> taken{0};
#pragma omp parallel num_threads(nt) if (nt > 1)
    cpu::share_items(nk, cpu::claim_items(total / double(nk)), taken, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) run(multi_tasks_[size_t(i)]);
    });
  }

  // The feed-forward block at decode sizes (M <= kSmallM rows) as one parallel region: h is
  // prepared once per thread (quantized for q8, into the thread's own buffer: no sync), each
  // thread runs a contiguous share of row chunks of gate and up together, applies the
  // activation to its chunks and quantizes them for the down product (the chunks hold whole
  // activation blocks), one barrier, then each thread runs a share of the down product's rows,
  // accumulating into x. Int8 weights (all three Int8PerChannel): each thread quantizes h into
  // its own buffer, runs its gate/up chunks with gemm_s8_rows and applies the activation; after
  // the barrier each thread quantizes the whole activated g rows (s8 scales need a row's absmax)
  // into its own buffer and runs its share of down rows. Same kernels and per-element arithmetic
  // as the op sequence, so the results are bit-identical to it (SPARKBENCH_CPU_FUSE=0 runs the
  // sequence). Other cases (prompts, oneDNN-packed Ggml weights, mixed kernel families or
  // formats): the sequence.
  void do_feed_forward(const Tensor& h, const Weight& wg, const Weight& wu, const Weight& wd, bool geglu, Tensor& g, Tensor& u,
                       Tensor& x) override {
    const auto &G = static_cast<const CpuWeight&>(wg), &U = static_cast<const CpuWeight&>(wu), &D = static_cast<const CpuWeight&>(wd);
    const int64_t M = h.rows(), K = h.cols(), F = G.rows(), C = D.rows();
    // int8: the decode kernels never read `packed` (the oneDNN prefill copy), so it does not matter
    const bool i8 = G.format() == WeightFormat::Int8PerChannel && U.format() == WeightFormat::Int8PerChannel &&
                    D.format() == WeightFormat::Int8PerChannel;
    if (i8 && fuse_ && M <= kSmallM) {
      feed_forward_int8(h, G, U, D, geglu, g, u, x);
      return;
    }
    bool fused = fuse_ && M <= kSmallM;
    for (const CpuWeight* w : {&G, &U, &D}) fused = fused && w->format() == WeightFormat::Ggml && !w->packed;
    const bool q8 = compute_ == ComputeType::Q8;
    const int kg = q8 ? cpu::q8_act_kind(G.source_type()) : 0, ku = q8 ? cpu::q8_act_kind(U.source_type()) : 0,
              kd = q8 ? cpu::q8_act_kind(D.source_type()) : 0;
    const bool qpath = kg != 0;  // integer products for all three, or plain gemv for all three
    fused = fused && ku == kg && (qpath ? kd != 0 : kd == 0);
    // rows per gate/up chunk: whole activation blocks of the down product's input
    const int64_t blk = kd == 2 ? kQK_K : kd == 1 ? kQK : 16;
    const int64_t chunk = std::max<int64_t>(16, blk);
    fused = fused && F % blk == 0;
    if (!fused) {
      Backend::do_feed_forward(h, wg, wu, wd, geglu, g, u, x);
      return;
    }
    const size_t xbh = qpath ? cpu::q8_act_row_bytes(G.source_type(), K) : 0;
    const size_t xbd = qpath ? cpu::q8_act_row_bytes(D.source_type(), F) : 0;
    // block sums of the quantized inputs for the GEMV (per thread: no sync)
    const bool sh = qpath && (G.qgemv_ok || U.qgemv_ok), sd = qpath && D.qgemv_ok;
    if (qpath)
      for (const CpuWeight* w : {&G, &U, &D}) ensure_qgemv(*w);
    const double bytes = double(G.row_bytes + U.row_bytes) * double(F) + double(D.row_bytes) * double(C);
    const int nt = team(bytes * double(M));
    const int64_t nc_up = (F + chunk - 1) / chunk, nc_down = (C + 15) / 16;
    ffn_xh_.resize(size_t(nt) * size_t(M) * xbh);
    ffn_xd_.resize(size_t(M) * xbd);
    const size_t nsh = sh ? size_t(M * (K / kQK)) : 0, nsd = sd ? size_t(M * (F / kQK)) : 0;
    ffn_sum_.resize(size_t(nt) * (nsh + nsd));
    float *gp = g.as<float>(), *up = u.as<float>(), *xp = x.as<float>();
    const float* hp = h.as<float>();
    std::atomic<int64_t> taken_up{0}, taken_down{0};
    count_region(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      const int id = omp_get_thread_num();
      uint8_t* xh = ffn_xh_.data() + size_t(id) * size_t(M) * xbh;
      int32_t* sumh = ffn_sum_.data() + size_t(id) * (nsh + nsd);
      int32_t* sumd = sumh + nsh;
      if (qpath)
        for (int64_t r = 0; r < M; ++r) qdot_->quantize(G.source_type(), hp + r * K, xh + size_t(r) * xbh, K);
      if (sh) cpu::qgemv_act_sums(G.source_type(), xh, xbh, M, K, sumh);
      cpu::share_items(nc_up, cpu::claim_items(double(G.row_bytes + U.row_bytes) * double(chunk)), taken_up, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t n0 = c * chunk, n1 = std::min(n0 + chunk, F);
          for (int64_t a = n0; a < n1; a += 16) {
            const int64_t b = std::min(a + 16, n1);
            if (qpath) {
              q8_rows(G, xh, xbh, sumh, M, gp, a, b, nullptr, false);
              q8_rows(U, xh, xbh, sumh, M, up, a, b, nullptr, false);
            } else {
              cpu::gemv_rows(G.source_type(), G.data, G.row_bytes, K, hp, K, M, gp, F, a, b, nullptr, false);
              cpu::gemv_rows(U.source_type(), U.data, U.row_bytes, K, hp, K, M, up, F, a, b, nullptr, false);
            }
          }
          activate_columns(gp, up, M, F, n0, n1, geglu);
          if (qpath)
            for (int64_t r = 0; r < M; ++r)
              qdot_->quantize(D.source_type(), gp + r * F + n0,
                              ffn_xd_.data() + size_t(r) * xbd + cpu::q8_act_row_bytes(D.source_type(), n0), n1 - n0);
        }
      });
#pragma omp barrier
      if (sd) cpu::qgemv_act_sums(D.source_type(), ffn_xd_.data(), xbd, M, F, sumd);
      cpu::share_items(nc_down, cpu::claim_items(double(D.row_bytes) * 16), taken_down, [&](int64_t c0, int64_t c1) {
        const int64_t n0 = c0 * 16, n1 = std::min(c1 * 16, C);
        if (qpath)
          q8_rows(D, ffn_xd_.data(), xbd, sumd, M, xp, n0, n1, nullptr, true);
        else
          cpu::gemv_rows(D.source_type(), D.data, D.row_bytes, F, gp, F, M, xp, C, n0, n1, nullptr, true);
      });
    }
  }

  // do_feed_forward's one region for int8 weights (see there).
  void feed_forward_int8(const Tensor& h, const CpuWeight& G, const CpuWeight& U, const CpuWeight& D, bool geglu, Tensor& g, Tensor& u,
                         Tensor& x) {
    const int64_t M = h.rows(), K = h.cols(), F = G.rows(), C = D.rows(), kph = G.kpad, kpf = D.kpad;
    const double bytes = double(G.kpad + U.kpad) * double(F) + double(D.kpad) * double(C);
    const int nt = team(bytes * double(M));
    const int64_t chunk = 16, nc_up = (F + chunk - 1) / chunk, nc_down = (C + chunk - 1) / chunk;
    // per thread: h quantized (M x kph), g quantized (M x kpf), their M + M row scales
    const size_t per = size_t(M * (kph + kpf));
    ffn_q8_.resize(size_t(nt) * per);
    ffn_d8_.resize(size_t(nt) * size_t(2 * M));
    float *gp = g.as<float>(), *up = u.as<float>(), *xp = x.as<float>();
    const float* hp = h.as<float>();
    std::atomic<int64_t> taken_up{0}, taken_down{0};
    count_region(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      const int id = omp_get_thread_num();
      int8_t *xh = ffn_q8_.data() + size_t(id) * per, *xg = xh + M * kph;
      float *dh = ffn_d8_.data() + size_t(id) * size_t(2 * M), *dg = dh + M;
      for (int64_t r = 0; r < M; ++r) dh[r] = cpu::quantize_row_s8(hp + r * K, xh + r * kph, K, kph);
      cpu::share_items(nc_up, cpu::claim_items(double(G.kpad + U.kpad) * double(chunk)), taken_up, [&](int64_t c0, int64_t c1) {
        const int64_t n0 = c0 * chunk, n1 = std::min(c1 * chunk, F);
        cpu::gemm_s8_rows(xh, dh, M, G.q8_data(), G.scales.data(), kph, gp, F, n0, n1, nullptr, false);
        cpu::gemm_s8_rows(xh, dh, M, U.q8_data(), U.scales.data(), kph, up, F, n0, n1, nullptr, false);
        activate_columns(gp, up, M, F, n0, n1, geglu);
      });
#pragma omp barrier
      for (int64_t r = 0; r < M; ++r) dg[r] = cpu::quantize_row_s8(gp + r * F, xg + r * kpf, F, kpf);
      cpu::share_items(nc_down, cpu::claim_items(double(D.kpad) * double(chunk)), taken_down, [&](int64_t c0, int64_t c1) {
        cpu::gemm_s8_rows(xg, dg, M, D.q8_data(), D.scales.data(), kpf, xp, C, c0 * chunk, std::min(c1 * chunk, C), nullptr, true);
      });
    }
  }

  void do_rope(Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0) override {
    const int nt = team(double(x.rows() * x.cols()) * 16);
    count_region(nt);
    host_rope("cpu", x, n_heads, s, pos0, nt);
  }

  void do_kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0) override {
    host_kv_store(cache, layer, k, v, pos0, cpu::convert_from_f32);
  }

  void do_attention(const Tensor& q, const KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s, Tensor& out) override {
    const auto& c = static_cast<const HostKvCache&>(cache);
    const int64_t D = s.head_dim, T = q.rows();
    if (T >= kAttnGemmRows) {
      attention_gemm(q, c, layer, pos0, s, out);
      return;
    }
    // work: every query row reads the keys and values before it
    const int nt = team(double(T) * double(pos0 + T) * double(s.n_head * D) * 4);
    count_region(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      std::vector<float> scores(size_t(pos0 + T));
#pragma omp for collapse(2) schedule(dynamic, 4)
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t h = 0; h < s.n_head; ++h) attend_head(q, c, layer, pos0, s, t, h, out, scores.data());
      }
    }
  }

  // Decode attention of query row t, head h (position pos0 + t) over the cached keys and
  // values: one head's scores, softmax and weighted sum into out. `scores` holds pos0 + t + 1
  // floats. The one implementation for the row-at-a-time paths (do_attention, the fused block).
  static void attend_head(const Tensor& q, const HostKvCache& c, int64_t layer, int64_t pos0, const AttentionShape& s, int64_t t, int64_t h,
                          Tensor& out, float* scores) {
    const int64_t D = s.head_dim, group = s.n_head / s.n_head_kv;
    const float scale = s.kq_scale(), cap = s.softcap;
    const DType dt = c.dtype();
    const size_t row_bytes = size_t(c.kv_dim()) * dtype_size(dt);
    const char* kbase = static_cast<const char*>(c.k_row(layer, 0));
    const char* vbase = static_cast<const char*>(c.v_row(layer, 0));
    float qh[1024];
    const int64_t n_ctx = pos0 + t + 1, kvh = h / group;
    const int64_t lo = s.first_key(n_ctx);
    std::memcpy(qh, q.as<float>() + t * q.cols() + h * D, size_t(D) * 4);
    round_row(dt, qh, D);
    const size_t head = size_t(kvh * D) * dtype_size(dt);
    cpu::dot_rows_dtype(qh, dt, kbase + size_t(lo) * row_bytes + head, row_bytes, n_ctx - lo, D, scale, scores + lo);
    if (cap > 0.0f)
      for (int64_t p = lo; p < n_ctx; ++p) scores[size_t(p)] = softcap_value(scores[size_t(p)], cap);
    cpu::softmax_row(scores + lo, scores + lo, n_ctx - lo);
    round_row(dt, scores + lo, n_ctx - lo);
    float* o = out.as<float>() + t * out.cols() + h * D;
    std::memset(o, 0, size_t(D) * 4);
    cpu::axpy_rows_dtype(scores + lo, dt, vbase + size_t(lo) * row_bytes + head, row_bytes, n_ctx - lo, o, D);
  }

  // rope, KV store, attention and the output projection at decode sizes (T < kAttnGemmRows,
  // wo on the decode kernels) as one parallel region: each thread takes a contiguous share of
  // the KV heads and, for every row, ropes and stores its K/V heads, ropes the query heads
  // that read them and runs their attention (the rows of this call it reads were stored by
  // itself); one barrier; then each thread prepares att (quantized for q8 or an int8 wo into its
  // own buffer) and runs a share of wo's rows, accumulating into x. Same per-element arithmetic
  // as the op sequence (bit-identical; SPARKBENCH_CPU_FUSE=0 runs the sequence). An int8 wo is
  // taken with or without `packed` (its oneDNN prefill copy, never read at decode).
  void do_attention_block(Tensor& q, Tensor& k, const Tensor& v, KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s,
                          Tensor& att, const Weight& wo_, Tensor& x) override {
    const auto& W = static_cast<const CpuWeight&>(wo_);
    auto& c = static_cast<HostKvCache&>(cache);
    const int64_t T = q.rows(), D = s.head_dim, group = s.n_head / s.n_head_kv, K = W.cols(), N = W.rows();
    const bool i8 = W.format() == WeightFormat::Int8PerChannel;
    const int ka = compute_ == ComputeType::Q8 && !i8 ? cpu::q8_act_kind(W.source_type()) : 0;
    const bool fused = fuse_ && T < kAttnGemmRows && T <= kSmallM && (i8 || !W.packed) && D <= 1024 && (s.n_rot == 0 || s.n_rot / 2 <= 512);
    if (!fused) {
      Backend::do_attention_block(q, k, v, cache, layer, pos0, s, att, wo_, x);
      return;
    }
    host_rope_check("cpu", s);
    const size_t xb = ka ? cpu::q8_act_row_bytes(W.source_type(), K) : 0;
    // work: the attention reads and the weight bytes
    const double wrow = i8 ? double(W.kpad) : double(W.row_bytes);
    const double work = double(T) * double(pos0 + T) * double(s.n_head * D) * 4 + wrow * double(N) * double(T);
    const int nt = work < kFusedParallelWork ? 1 : threads_;
    att_xq_.resize(size_t(nt) * size_t(T) * xb);
    const int64_t kp = i8 ? W.kpad : 0;
    att_q8_.resize(size_t(nt) * size_t(T * kp));
    att_d8_.resize(i8 ? size_t(nt) * size_t(T) : 0);
    if (ka) ensure_qgemv(W);
    const size_t nsum = ka && W.qgemv_ok ? size_t(T * (K / kQK)) : 0;
    att_sum_.resize(size_t(nt) * nsum);
    const DType dt = c.dtype();
    const size_t esz = dtype_size(dt);
    const int64_t nc = (N + 15) / 16;
    std::atomic<int64_t> taken{0};
    count_region(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      const int id = omp_get_thread_num(), nth = omp_get_num_threads();
      const int64_t g0 = s.n_head_kv * id / nth, g1 = s.n_head_kv * (id + 1) / nth;
      float cs[1024];
      std::vector<float> scores(size_t(pos0 + T));
      for (int64_t t = 0; t < T && g1 > g0; ++t) {
        host_rope_angles(s, pos0 + t, cs);
        float *qr = q.as<float>() + t * q.cols(), *kr = k.as<float>() + t * k.cols();
        host_rope_heads(s, cs, kr, g0, g1);
        host_rope_heads(s, cs, qr, g0 * group, g1 * group);
        cpu::convert_from_f32(dt, kr + g0 * D, static_cast<char*>(c.k_row(layer, pos0 + t)) + size_t(g0 * D) * esz, (g1 - g0) * D);
        cpu::convert_from_f32(dt, v.as<float>() + t * v.cols() + g0 * D,
                              static_cast<char*>(c.v_row(layer, pos0 + t)) + size_t(g0 * D) * esz, (g1 - g0) * D);
        for (int64_t h = g0 * group; h < g1 * group; ++h) attend_head(q, c, layer, pos0, s, t, h, att, scores.data());
      }
#pragma omp barrier
      const float* ap = att.as<float>();
      uint8_t* xq = att_xq_.data() + size_t(id) * size_t(T) * xb;
      int32_t* sums = att_sum_.data() + size_t(id) * nsum;
      if (ka)
        for (int64_t r = 0; r < T; ++r) qdot_->quantize(W.source_type(), ap + r * K, xq + size_t(r) * xb, K);
      if (nsum) cpu::qgemv_act_sums(W.source_type(), xq, xb, T, K, sums);
      int8_t* x8 = att_q8_.data() + size_t(id) * size_t(T * kp);
      float* d8 = i8 ? att_d8_.data() + size_t(id) * size_t(T) : nullptr;
      if (i8)
        for (int64_t r = 0; r < T; ++r) d8[r] = cpu::quantize_row_s8(ap + r * K, x8 + r * kp, K, kp);
      cpu::share_items(nc, cpu::claim_items(wrow * 16), taken, [&](int64_t c0, int64_t c1) {
        const int64_t n0 = c0 * 16, n1 = std::min(c1 * 16, N);
        if (i8)
          cpu::gemm_s8_rows(x8, d8, T, W.q8_data(), W.scales.data(), kp, x.as<float>(), N, n0, n1, nullptr, true);
        else if (ka)
          q8_rows(W, xq, xb, sums, T, x.as<float>(), n0, n1, nullptr, true);
        else
          cpu::gemv_rows(W.source_type(), W.data, W.row_bytes, K, ap, K, T, x.as<float>(), N, n0, n1, nullptr, true);
      });
    }
  }

  // Prompt rows attend through two batched matrix products, Q.K^T and P.V (oneDNN matmuls with
  // a batch dimension of KV heads, threaded inside), with the same roundings as the
  // row-at-a-time path: q and the probabilities rounded to the KV type, K and V used exactly
  // (converted to f32). A KV head's batch entry holds the query rows of all its group's heads
  // (M = group x rows), so grouped heads share one product. Query rows go in blocks of at most
  // kAttnBlock (keys past a block's last row are not computed), and each block's KV heads in
  // chunks whose scores fit kAttnScores (2 MiB: at short context every head in one product; at
  // long context one head at a time, so the scores stay in cache between the products and the
  // softmax). Within a chunk the K/V conversion, q gather, scale and softmax, and output
  // scatter are one parallel loop each over all its heads' rows.
  void attention_gemm(const Tensor& q, const HostKvCache& c, int64_t layer, int64_t pos0, const AttentionShape& s, Tensor& out) {
    const int64_t D = s.head_dim, H = s.n_head, Hkv = s.n_head_kv, group = H / Hkv, T = q.rows();
    const float scale = s.kq_scale(), cap = s.softcap;
    const DType dt = c.dtype();
    const size_t esz = dtype_size(dt), row_bytes = size_t(c.kv_dim()) * esz;
    using dims = memory::dims;
    if (!attn_qk_) {
      const auto rt = DNNL_RUNTIME_DIM_VAL;
      const memory::desc abc(dims{rt, rt, rt}, ddt::f32, tag::abc), acb(dims{rt, rt, rt}, ddt::f32, tag::acb);
      attn_qk_ = std::make_unique<dnnl::matmul>(dnnl::matmul::primitive_desc(dnnl::matmul::desc(abc, acb, abc), eng_));
      attn_pv_ = std::make_unique<dnnl::matmul>(dnnl::matmul::primitive_desc(dnnl::matmul::desc(abc, abc, abc), eng_));
    }
    const char* kbase = static_cast<const char*>(c.k_row(layer, 0));
    const char* vbase = static_cast<const char*>(c.v_row(layer, 0));
    for (int64_t t0 = 0; t0 < T; t0 += kAttnBlock) {
      const int64_t tb = std::min<int64_t>(kAttnBlock, T - t0), keys = pos0 + t0 + tb, M = group * tb;
      const int64_t hc_max = std::clamp<int64_t>(kAttnScores / (M * keys), 1, Hkv);  // KV heads per chunk
      for (int64_t kv0 = 0; kv0 < Hkv; kv0 += hc_max) {
        const int64_t hc = std::min(hc_max, Hkv - kv0), rows = hc * M;  // rows: (head - kv0 * group) * tb + r
        attn_k_.resize(size_t(hc * keys * D));                          // [kv head][position][D]
        attn_v_.resize(size_t(hc * keys * D));
        attn_q_.resize(size_t(rows * D));  // [kv head][group head][row][D]
        attn_s_.resize(size_t(rows * keys));
        attn_o_.resize(size_t(rows * D));
        const int nt = team(double(hc * keys) * double(D) * 8);
        count_region(nt);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < hc * keys; ++i) {
          const int64_t kvh = kv0 + i / keys, p = i % keys;
          const size_t at = size_t(p) * row_bytes + size_t(kvh * D) * esz;
          cpu::convert_to_f32(dt, kbase + at, attn_k_.data() + i * D, D);
          cpu::convert_to_f32(dt, vbase + at, attn_v_.data() + i * D, D);
        }
        const int nq = team(double(rows) * double(D) * 8);
        count_region(nq);
#pragma omp parallel for schedule(static) num_threads(nq) if (nq > 1)
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t h = kv0 * group + i / tb, r = i % tb;
          float* dst = attn_q_.data() + i * D;
          std::memcpy(dst, q.as<float>() + (t0 + r) * q.cols() + h * D, size_t(D) * 4);
          round_row(dt, dst, D);
        }
        const memory mq({dims{hc, M, D}, ddt::f32, tag::abc}, eng_, attn_q_.data());
        const memory mk({dims{hc, D, keys}, ddt::f32, tag::acb}, eng_, attn_k_.data());
        const memory ms({dims{hc, M, keys}, ddt::f32, tag::abc}, eng_, attn_s_.data());
        count_region(threads_);
        attn_qk_->execute(stream_, {{DNNL_ARG_SRC, mq}, {DNNL_ARG_WEIGHTS, mk}, {DNNL_ARG_DST, ms}});
        stream_.wait();
        const int ns = team(double(rows) * double(keys) * 8);
        count_region(ns);
#pragma omp parallel for schedule(static) num_threads(ns) if (ns > 1)
        for (int64_t i = 0; i < rows; ++i) {
          float* row = attn_s_.data() + i * keys;
          const int64_t valid = pos0 + t0 + i % tb + 1;
          const int64_t lo = s.first_key(valid);
          for (int64_t p = lo; p < valid; ++p) row[p] *= scale;
          if (cap > 0.0f)
            for (int64_t p = lo; p < valid; ++p) row[p] = softcap_value(row[p], cap);
          cpu::softmax_row(row + lo, row + lo, valid - lo);
          round_row(dt, row + lo, valid - lo);
          std::fill(row, row + lo, 0.0f);
          std::fill(row + valid, row + keys, 0.0f);
        }
        const memory mv({dims{hc, keys, D}, ddt::f32, tag::abc}, eng_, attn_v_.data());
        const memory mo({dims{hc, M, D}, ddt::f32, tag::abc}, eng_, attn_o_.data());
        count_region(threads_);
        attn_pv_->execute(stream_, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mv}, {DNNL_ARG_DST, mo}});
        stream_.wait();
        count_region(nq);
#pragma omp parallel for schedule(static) num_threads(nq) if (nq > 1)
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t h = kv0 * group + i / tb, r = i % tb;
          std::memcpy(out.as<float>() + (t0 + r) * out.cols() + h * D, attn_o_.data() + i * D, size_t(D) * 4);
        }
      }
    }
  }

  // round_to_dtype through the vectorized conversions (same results, many times faster).
  static void round_row(DType dt, float* x, int64_t n) {
    if (dt == DType::F32) return;
    uint16_t tmp[512];
    for (int64_t i = 0; i < n; i += 512) {
      const int64_t m = std::min<int64_t>(512, n - i);
      cpu::convert_from_f32(dt, x + i, tmp, m);
      cpu::convert_to_f32(dt, tmp, x + i, m);
    }
  }

  // dst (M, N) = src (M, K) . wei (K, N) on a runtime-shaped matmul; all buffers dense f32.
  void run_matmul(dnnl::matmul& prim, float* src, memory::dims sd, float* wei, memory::dims wd, tag wtag, float* dst, memory::dims dd) {
    memory ms({sd, ddt::f32, tag::ab}, eng_, src), mw({wd, ddt::f32, wtag}, eng_, wei), md({dd, ddt::f32, tag::ab}, eng_, dst);
    count_region(threads_);  // oneDNN threads its primitives with OpenMP: one region (at least)
    prim.execute(stream_, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}});
    stream_.wait();
  }

  void do_swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    const int64_t C = gate.cols();
    const int nt = team(double(gate.rows() * C) * 12);
    count_region(nt);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t t = 0; t < gate.rows(); ++t) cpu::swiglu_row(gate.as<float>() + t * C, up.as<float>() + t * C, out.as<float>() + t * C, C);
  }

  void do_geglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    const int64_t n = gate.rows() * gate.cols();
    const int nt = team(double(n) * 24);
    count_region(nt);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < n; ++i) out.as<float>()[i] = gelu_tanh(gate.as<float>()[i]) * up.as<float>()[i];
  }

  void do_add(Tensor& x, const Tensor& y) override {
    const int64_t n = x.rows() * x.cols();
    cpu::add_row(x.as<float>(), y.as<float>(), n);
  }

  void do_scale(Tensor& x, float s) override {
    const int64_t n = x.rows() * x.cols();
    float* p = x.as<float>();
    for (int64_t i = 0; i < n; ++i) p[i] *= s;
  }

  void do_softcap(Tensor& x, float cap) override {
    const int64_t n = x.rows() * x.cols();
    const int nt = team(double(n) * 24);
    float* p = x.as<float>();
    count_region(nt);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < n; ++i) p[i] = softcap_value(p[i], cap);
  }

 private:
  // Block and half-precision weights with M > 8 rows (prompt processing), fused per tile: a tile
  // of weight rows (about 512 KiB as f32, so it stays in L2, and at least 64 rows) is dequantized by all threads, then
  // one oneDNN f32 matmul multiplies all M rows by it into a contiguous M x tile scratch, which
  // the next tile's dequantization region copies into its column slice of y (adding the bias,
  // accumulating when asked). The whole matrix never exists in f32. The matmul is created for
  // this M (cached per M and tile shape): oneDNN 2.6 runs its brgemm kernels only for a known M
  // and a plain destination, 1.2-1.4x its runtime-M sgemm at these shapes (1B tiles, 2 threads,
  // the Intel Xeon; a strided destination or runtime M falls back to the sgemm). Measured
  // against the alternatives in docs/VARIANTS.md.
  void matmul_tiles(const Tensor& x, const CpuWeight& w, Tensor& y, const Tensor* bias, bool accumulate) {
    const int64_t M = x.rows(), K = x.cols(), N = w.rows();
    // at least 64 columns: oneDNN's f32 matmul ran narrower tiles slowly (1B F16 pp128 on the Intel
    // Xeon, where ffn_down's K = 8192 made 16-column tiles: 48-53 t/s with 16, 61-67 with 64)
    const int64_t T = std::min(N, std::max<int64_t>(64, (int64_t(512) * 1024 / (K * 4)) / 16 * 16));
    scratch_.resize(size_t(T * K));
    tile_y_.resize(size_t(M * T));
    float* yp = y.as<float>();
    const float* bp = bias ? bias->as<float>() : nullptr;
    // the previous tile's product (columns [p0, p0 + pt)) into y, rows [0, M) shared by the team
    auto put = [&](int64_t p0, int64_t pt) {
#pragma omp for schedule(static)
      for (int64_t r = 0; r < M; ++r) {
        const float* t = tile_y_.data() + r * pt;
        float* o = yp + r * N + p0;
        for (int64_t c = 0; c < pt; ++c) {
          const float v = bp ? t[c] + bp[p0 + c] : t[c];
          o[c] = accumulate ? o[c] + v : v;
        }
      }
    };
    if (prims_.size() > 4096) std::erase_if(prims_, [](const auto& e) { return e.first.m > 0; });  // many prompt lengths
    memory src({{M, K}, ddt::f32, tag::ab}, eng_, x.data());
    memory dst({{M, T}, ddt::f32, tag::ab}, eng_, tile_y_.data());
    int64_t p0 = -1, pt = 0;
    for (int64_t n0 = 0; n0 < N; n0 += T) {
      const int64_t nt = std::min(T, N - n0);
      count_region(threads_);
#pragma omp parallel
      {
        if (p0 >= 0) put(p0, pt);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < nt; r += 16)
          cpu::dequantize_rows(w.source_type(), w.data + size_t(n0) * w.row_bytes, w.row_bytes, K, r, std::min(r + 16, nt),
                               scratch_.data() + r * K);
      }
      PrimKey key{K, nt, 4, false, false, 0, M};
      auto it = prims_.find(key);
      if (it == prims_.end()) it = prims_.emplace(key, dnnl::matmul(tile_pd(M, K, nt))).first;
      memory wm({{K, nt}, ddt::f32, tag::ba}, eng_, scratch_.data());
      if (nt != T) dst = memory({{M, nt}, ddt::f32, tag::ab}, eng_, tile_y_.data());
      count_region(threads_);
      it->second.execute(stream_, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dst}});
      stream_.wait();
      p0 = n0;
      pt = nt;
    }
    count_region(threads_);
#pragma omp parallel
    put(p0, pt);
  }

  // f32 (M x K) x (K x nt, 'ba') -> a plain M x nt f32 destination, for this M.
  dnnl::matmul::primitive_desc tile_pd(int64_t M, int64_t K, int64_t nt) {
    const memory::desc src({M, K}, ddt::f32, tag::ab), wts({K, nt}, ddt::f32, tag::ba), dst({M, nt}, ddt::f32, tag::ab);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wts, dst), eng_);
  }

  // --compute q8: x quantized once per product into 8-bit blocks, then integer dot products
  // (engine/backends/cpu/qdot.h) on the ISA level picked at start-up. Threads split the output
  // columns in chunks of 16 weight rows; every chunk multiplies all M rows (in groups of 4, so
  // each weight block is unpacked once per 4 rows and the chunk stays in L1).
  void matmul_q8(const Tensor& x, const CpuWeight& w, Tensor& y, const float* bias, bool accumulate) {
    const int64_t M = x.rows(), K = x.cols(), N = w.rows();
    const GgmlType t = w.source_type();
    const size_t xb = cpu::q8_act_row_bytes(t, K);
    xq8_.resize(size_t(M) * xb);
    const int nq = team(double(M * K) * 8);
    count_region(nq);
#pragma omp parallel for schedule(static) num_threads(nq) if (nq > 1)
    for (int64_t r = 0; r < M; ++r) qdot_->quantize(t, x.as<float>() + r * K, xq8_.data() + size_t(r) * xb, K);
    const int64_t chunk = 16;
    const int nt = team(double(w.row_bytes) * double(N) * double(M));
    float* yp = y.as<float>();
    if (M <= kSmallM && w.qgemv_ok) {  // decode: row-interleaved GEMV, threads split 16-row groups
      ensure_qgemv(w);
      xsum_.resize(size_t(M * (K / kQK)));
      cpu::qgemv_act_sums(t, xq8_.data(), xb, M, K, xsum_.data());
      const int64_t groups = (N + cpu::kGemvRows - 1) / cpu::kGemvRows;
      const uint8_t* pw = static_cast<const uint8_t*>(w.vpacked.get());
      count_region(nt);
      std::atomic<int64_t> taken{0};
#pragma omp parallel num_threads(nt) if (nt > 1)
      cpu::share_items(groups, cpu::claim_items(double(w.row_bytes) * cpu::kGemvRows), taken, [&](int64_t g0, int64_t g1) {
        qgemv_->gemv(t, pw, N, K, xq8_.data(), xb, xsum_.data(), M, yp, N, g0, g1, bias, accumulate);
      });
      return;
    }
    if (M <= kSmallM) {  // decode: row chunks shared as share_items says, weights streamed once
      std::atomic<int64_t> taken{0};
      count_region(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
      cpu::share_items((N + chunk - 1) / chunk, cpu::claim_items(double(w.row_bytes) * chunk), taken, [&](int64_t c0, int64_t c1) {
        qdot_->gemm(t, w.data, w.row_bytes, K, xq8_.data(), xb, M, yp, N, c0 * chunk, std::min(c1 * chunk, N), bias, accumulate);
      });
      return;
    }
    count_region(nt);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int64_t n0 = 0; n0 < N; n0 += chunk)
      qdot_->gemm(t, w.data, w.row_bytes, K, xq8_.data(), xb, M, yp, N, n0, std::min(n0 + chunk, N), bias, accumulate);
  }

  // ---- --compute q8 decode GEMV (cpu/qgemv.h): the weight repacked once (threads split the
  // 16-row groups); the original stays for prefill paths that read it ----
  void pack_qgemv(const CpuWeight& w) {
    const int64_t N = w.rows(), K = w.cols(), groups = (N + cpu::kGemvRows - 1) / cpu::kGemvRows;
    w.vpacked_bytes = cpu::qgemv_packed_bytes(w.source_type(), N, K);
    w.vpacked = host_alloc_weight(w.vpacked_bytes);
    uint8_t* out = static_cast<uint8_t*>(w.vpacked.get());
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t g = 0; g < groups; ++g) cpu::qgemv_pack(w.source_type(), w.data, w.row_bytes, N, K, out, g, g + 1);
    // Decode now reads the packed copy: the file's pages leave the resident set (a prompt
    // product or the embedding lookup that reads them later faults them in again).
    if (w.file_pages) release_file_pages(w.data, w.row_bytes * size_t(N));
  }
  // Packs w for the GEMV if it takes it (outside parallel regions: the pack is threaded).
  void ensure_qgemv(const CpuWeight& w) {
    if (w.qgemv_ok) std::call_once(w.vpack_once, [&] { pack_qgemv(w); });
  }
  // One q8 decode product, rows [n0, n1) of w (n0 a multiple of kGemvRows, n1 one too or N):
  // the row-interleaved GEMV when w has its packed form (ensure_qgemv; sums from
  // qgemv_act_sums of xq), else qdot's kernel. The one choice for every decode path.
  void q8_rows(const CpuWeight& w, const uint8_t* xq, size_t xb, const int32_t* sums, int64_t M, float* y, int64_t n0, int64_t n1,
               const float* bias, bool accumulate) const {
    const int64_t N = w.rows(), K = w.cols();
    if (w.qgemv_ok)
      qgemv_->gemv(w.source_type(), static_cast<const uint8_t*>(w.vpacked.get()), N, K, xq, xb, sums, M, y, N, n0 / cpu::kGemvRows,
                   (n1 + cpu::kGemvRows - 1) / cpu::kGemvRows, bias, accumulate);
    else
      qdot_->gemm(w.source_type(), w.data, w.row_bytes, K, xq, xb, M, y, N, n0, n1, bias, accumulate);
  }

  // ---- --compute q8 prefill through the blocked integer GEMM (cpu/qgemm.h) ----
  // Repacks a block weight (threads split the panels); the original stays for decode.
  void pack_qgemm(const CpuWeight& w) {
    const int64_t N = w.rows(), K = w.cols(), L = qgemm_->lanes, panels = (N + L - 1) / L;
    w.qpacked_bytes = qgemm_->packed_bytes(w.source_type(), N, K);
    w.qpacked = host_alloc_weight(w.qpacked_bytes);
    uint8_t* out = static_cast<uint8_t*>(w.qpacked.get());
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t p = 0; p < panels; ++p) qgemm_->pack(w.source_type(), w.data, w.row_bytes, N, K, out, p, p + 1);
  }

  // x quantized once per product (rows split over threads), then threads take pairs of weight
  // panels (32 rows at AVX-512, 16 at AVX2) and multiply them by all M rows in 4-row tiles.
  void matmul_qgemm(const Tensor& x, const CpuWeight& w, Tensor& y, const float* bias, bool accumulate) {
    std::call_once(w.qpack_once, [&] { pack_qgemm(w); });
    const int64_t M = x.rows(), K = x.cols(), N = w.rows(), L = qgemm_->lanes, panels = (N + L - 1) / L;
    const size_t xb = cpu::qgemm_act_row_bytes(K);
    xq8_.resize(size_t(M) * xb);
    const int nq = team(double(M * K) * 8);
#pragma omp parallel for schedule(static) num_threads(nq) if (nq > 1)
    for (int64_t r = 0; r < M; ++r) qgemm_->quantize(x.as<float>() + r * K, xq8_.data() + size_t(r) * xb, K);
    const int nt = team(double(w.qpacked_bytes) * double(M));
    const uint8_t* pw = static_cast<const uint8_t*>(w.qpacked.get());
    float* yp = y.as<float>();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int64_t p = 0; p < panels; p += 2)
      qgemm_->gemm(w.source_type(), pw, N, K, xq8_.data(), M, yp, N, p, std::min(p + 2, panels), bias, accumulate);
  }

  // A weight read in place (decode streams it every token) moves into host_alloc_weight's memory,
  // which is backed by huge pages where the kernel offers them, and the file's pages are dropped.
  // Measured on this project's Zen 5 box (2 threads): a stream through 2 MiB pages reads 10-15%
  // more bytes per second than through the file's 4 KiB pages. SPARKBENCH_HUGEPAGES=0 keeps
  // the file's pages.
  void make_resident(CpuWeight& w, const WeightSource& src) {
    if (!host_hugepages()) return;
    const size_t bytes = w.row_bytes * size_t(src.rows);
    if (bytes < (size_t(64) << 10)) return;  // matrices under 64 KiB stay where they are
    w.resident = host_alloc_weight(bytes);
    std::memcpy(w.resident.get(), src.data, bytes);
    w.data = static_cast<const uint8_t*>(w.resident.get());
    w.file_pages = false;  // data now lies in an arena shared with other weights: never drop its pages
    release_source(src, bytes);
  }

  void load_int8(CpuWeight& w, const WeightSource& src) {
    if (!src.scales) fail("cpu backend: int8 weight '", src.name, "' has no scales");
    const int64_t N = src.rows, K = src.cols;
    w.kpad = cpu::int8_padded(K);
    w.scales.assign(src.scales, src.scales + N);
    const int8_t* in = static_cast<const int8_t*>(src.data);
    int8_t* out;
    if (w.kpad == K) {  // rows already whole 32-byte blocks: used in place (the source outlives the weight)
      out = const_cast<int8_t*>(in);
      w.q8 = std::shared_ptr<void>(out, [](void*) {});
    } else {  // rows padded with zeros to whole 32-byte blocks
      w.q8 = host_alloc_weight(size_t(N * w.kpad));
      out = static_cast<int8_t*>(w.q8.get());
      for (int64_t n = 0; n < N; ++n) std::memcpy(out + n * w.kpad, in + n * K, size_t(K));
    }
    if (!int8_dnnl_) return;
    // s8 weights in oneDNN's layout for u8 x s8 -> s32, and the column sums for the u8 shift.
    w.colsum.assign(size_t(N), 0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) w.colsum[size_t(n)] += in[n * K + k];
    auto pd = matmul_pd(K, N, 3, false, false, memory::desc());
    memory::desc want = pd.weights_desc();
    memory plain_mem(memory::desc({K, N}, ddt::s8, memory::dims{1, w.kpad}), eng_, out);
    w.packed = host_alloc_weight(want.get_size());
    w.packed_md = want;
    memory packed_mem(want, eng_, w.packed.get());
    dnnl::reorder(plain_mem, packed_mem).execute(stream_, plain_mem, packed_mem);
    stream_.wait();
  }

  // Int8 weights: activations quantized per token (bit-identical to the reference), then exact
  // integer products: AVX2 kernel for decode (and for prefill without VNNI), oneDNN u8 x s8
  // matmul for prefill with VNNI (x shifted by +128 to u8; 128 * colsum subtracted after).
  void matmul_int8(const Tensor& x, const CpuWeight& w, Tensor& y, const float* bias, bool accumulate) {
    const int64_t M = x.rows(), K = x.cols(), N = w.rows(), kp = w.kpad;
    xq_.resize(size_t(M * kp));
    xd_.resize(size_t(M));
    const int nq = team(double(M * K) * 8);
    count_region(nq);
#pragma omp parallel for schedule(static) num_threads(nq) if (nq > 1)
    for (int64_t t = 0; t < M; ++t) xd_[size_t(t)] = cpu::quantize_row_s8(x.as<float>() + t * K, xq_.data() + t * kp, K, kp);
    if (M > kSmallM && w.packed) {
      xu8_.resize(size_t(M * kp));
      for (size_t i = 0; i < xu8_.size(); ++i) xu8_[i] = uint8_t(int(xq_[i]) + 128);
      acc32_.resize(size_t(M * N));
      PrimKey key{K, N, 3, false, false};
      auto it = prims_.find(key);
      if (it == prims_.end()) it = prims_.emplace(key, dnnl::matmul(matmul_pd(K, N, 3, false, false, memory::desc()))).first;
      memory src(memory::desc({M, K}, ddt::u8, memory::dims{kp, 1}), eng_, xu8_.data());
      memory dst({{M, N}, ddt::s32, tag::ab}, eng_, acc32_.data());
      memory wm(w.packed_md, eng_, w.packed.get());
      count_region(threads_);
      it->second.execute(stream_, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dst}});
      stream_.wait();
      float* yp = y.as<float>();
      count_region(threads_);
#pragma omp parallel for schedule(static)
      for (int64_t t = 0; t < M; ++t)
        for (int64_t n = 0; n < N; ++n) {
          float v = float(acc32_[size_t(t * N + n)] - 128 * w.colsum[size_t(n)]) * (xd_[size_t(t)] * w.scales[size_t(n)]);
          if (bias) v += bias[n];
          yp[t * N + n] = accumulate ? yp[t * N + n] + v : v;
        }
      return;
    }
    const int64_t chunk = cpu::kTileRows;
    const int nt = team(double(kp) * double(N) * double(M));
    count_region(nt);
    if (M <= kSmallM) {  // decode: shares as cpu/share.h says, weights streamed in order
      std::atomic<int64_t> taken{0};
#pragma omp parallel num_threads(nt) if (nt > 1)
      cpu::share_items((N + chunk - 1) / chunk, cpu::claim_items(double(kp) * double(chunk)), taken, [&](int64_t c0, int64_t c1) {
        cpu::gemm_s8_rows(xq_.data(), xd_.data(), M, w.q8_data(), w.scales.data(), kp, y.as<float>(), N, c0 * chunk,
                          std::min(c1 * chunk, N), bias, accumulate);
      });
      return;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int64_t n0 = 0; n0 < N; n0 += chunk)
      cpu::gemm_s8_rows(xq_.data(), xd_.data(), M, w.q8_data(), w.scales.data(), kp, y.as<float>(), N, n0, std::min(n0 + chunk, N), bias,
                        accumulate);
  }

  // kind 0: f32 weights in plain 'ba' layout; 1: f32 weights in oneDNN's chosen layout;
  // 2: bf16 src/weights (chosen layout), f32 dst; 3: u8 src, s8 weights (chosen layout), s32 dst.
  dnnl::matmul::primitive_desc matmul_pd(int64_t K, int64_t N, int kind, bool bias, bool accumulate, const memory::desc&) {
    if (kind == 3) {
      memory::desc src({DNNL_RUNTIME_DIM_VAL, K}, ddt::u8, tag::ab);
      memory::desc wts({K, N}, ddt::s8, tag::any);
      memory::desc dst({DNNL_RUNTIME_DIM_VAL, N}, ddt::s32, tag::ab);
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wts, dst), eng_);
    }
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
    if (it == prims_.end())
      it = prims_.emplace(key, dnnl::matmul(matmul_pd(K, N, kind, bias != nullptr, accumulate, memory::desc()))).first;
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
    count_region(threads_);
    it->second.execute(stream_, args);
    stream_.wait();
  }

  bool stats_ = false;                      // SPARKBENCH_CPU_STATS=1: print the counts below at exit
  bool fuse_ = true;                        // SPARKBENCH_CPU_FUSE=0: matmul_multi as separate products (A/B runs)
  uint64_t regions_ = 0, passes_ = 0;       // parallel regions opened; forward passes (embed calls)
  std::vector<uint8_t> xqm_;                // x quantized once for do_matmul_multi
  std::vector<uint8_t> att_xq_;             // do_attention_block: att quantized (per thread)
  std::vector<int32_t> att_sum_, ffn_sum_;  // the fused blocks' GEMV block sums (per thread)
  std::vector<uint8_t> ffn_xh_, ffn_xd_;    // do_feed_forward: h quantized (per thread), act(g) * u quantized
  std::vector<int8_t> ffn_q8_, att_q8_;     // the fused blocks with int8 weights: s8 inputs (per thread)
  std::vector<float> ffn_d8_, att_d8_;      // and their row scales
  struct MultiTask {
    int i;           // product
    int64_t n0, n1;  // weight rows
    double c0;       // weight bytes of the chunks before this one
  };
  std::vector<MultiTask> multi_tasks_;
  dnnl::engine eng_;
  dnnl::stream stream_;
  ComputeType compute_;
  bool repack_;
  int threads_ = 1;
  std::map<PrimKey, dnnl::matmul> prims_;
  std::vector<float> scratch_;
  std::vector<float> tile_y_;  // matmul_tiles: one tile's product (M x tile columns)
  std::vector<uint16_t> xbf16_;
  bool int8_dnnl_ = false;                    // int8 prefill through oneDNN (CPU has VNNI)
  cpu::Isa isa_ = cpu::Isa::Avx2;             // level of the dispatched kernels (cpu_isa.h)
  const cpu::QdotKernels* qdot_ = nullptr;    // --compute q8 products at that level
  const cpu::QgemmKernels* qgemm_ = nullptr;  // --compute q8 prefill GEMM (null: SPARKBENCH_CPU_QGEMM=0)
  const cpu::QgemvKernels* qgemv_ = nullptr;  // --compute q8 decode GEMV (null: SPARKBENCH_CPU_QGEMV=0)
  std::vector<uint8_t> xq8_;                  // x quantized for matmul_q8
  std::vector<int32_t> xsum_;                 // block sums of x's quants for the GEMV
  // Prefill with f16/bf16/q8_0/q4_0 weights (SPARKBENCH_CPU_QPREFILL): dequantized tiles through
  // oneDNN (default), tiles through the AVX2 kernel, or the whole matrix expanded per call.
  enum class QPrefill { OnednnTiles, Avx2Tiles, Expand } qprefill_ = QPrefill::OnednnTiles;
  std::vector<int8_t> xq_;
  std::vector<float> xd_;
  std::vector<uint8_t> xu8_;
  std::vector<int32_t> acc32_;
  // prefill attention (attention_gemm): two runtime-shaped matmuls and their buffers
  static constexpr int64_t kAttnGemmRows = 16;              // query rows from which the matmul path is used
  static constexpr int64_t kAttnBlock = 256;                // query rows per score block
  static constexpr int64_t kAttnScores = int64_t(1) << 19;  // f32 scores per batched product (2 MiB), heads permitting
  std::unique_ptr<dnnl::matmul> attn_qk_, attn_pv_;
  std::vector<float> attn_k_, attn_v_, attn_q_, attn_s_, attn_o_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& opt) {
  const char* env = std::getenv("SPARKBENCH_CPU_REPACK");
  return std::make_unique<CpuBackend>(opt, env && std::string(env) == "1");
}

}  // namespace sb
