// CPU emulation of the CUDA runtime, cuBLAS GemmEx and kernel execution for
// tests/tools/device_emu/run.sh (see there). EMU_NO_DEVICE=1 makes cudaGetDeviceCount fail (to
// exercise the no-GPU paths); EMU_STATS=1 prints launch counts at exit.
#include <setjmp.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "cuda_runtime.h"
#include "emu_kernel.h"

namespace emu {
dim3 g_blockIdx, g_blockDim, g_gridDim;
static cudaError_t g_last = cudaSuccess;
static bool g_capturing = false;
struct Node {
  dim3 g, b;
  size_t smem;
  std::function<void()> body;
};
static std::vector<Node> g_capture;
static std::map<const void*, int> g_smem_attr;
static std::vector<char> g_smem;
static long g_launches = 0;

enum St { READY, WAIT_BLOCK, WAIT_WARP, DONE };
struct ThreadState {
  ucontext_t ctx;  // first entry only
  jmp_buf env;     // later switches (_setjmp/_longjmp: no signal-mask syscalls)
  bool started = false;
  uint3 tid;
  St st = READY;
  float xf = 0;
  int32_t xi = 0;
};
static std::vector<ThreadState> g_th;
static std::vector<std::unique_ptr<char[]>> g_stacks;
static constexpr size_t kStack = 256 * 1024;
static ucontext_t g_sched;
static jmp_buf g_sched_env;
static int g_cur = -1;
static const std::function<void()>* g_body = nullptr;

uint3& cur_tid() { return g_th[size_t(g_cur)].tid; }
float* dyn_smem() { return reinterpret_cast<float*>(g_smem.data()); }

static void yield_with(St s) {
  ThreadState& t = g_th[size_t(g_cur)];
  t.st = s;
  if (!_setjmp(t.env)) _longjmp(g_sched_env, 1);
}
void syncthreads() { yield_with(WAIT_BLOCK); }
void syncwarp() { yield_with(WAIT_WARP); }
float shfl_xor_f(float v, int o) {
  const int me = g_cur;
  g_th[size_t(me)].xf = v;
  syncwarp();
  const int lane = me % 32, base = me - lane, partner = base + (lane ^ o);
  if (partner >= int(g_th.size()) || g_th[size_t(partner)].st == DONE) {
    std::fprintf(stderr, "EMU: shuffle with exited/missing lane\n");
    std::abort();
  }
  const float r = g_th[size_t(partner)].xf;
  syncwarp();
  return r;
}
int32_t shfl_xor_i(int32_t v, int o) {
  const int me = g_cur;
  g_th[size_t(me)].xi = v;
  syncwarp();
  const int lane = me % 32, base = me - lane, partner = base + (lane ^ o);
  if (partner >= int(g_th.size()) || g_th[size_t(partner)].st == DONE) {
    std::fprintf(stderr, "EMU: shuffle with exited/missing lane\n");
    std::abort();
  }
  const int32_t r = g_th[size_t(partner)].xi;
  syncwarp();
  return r;
}

static void entry() {
  (*g_body)();
  g_th[size_t(g_cur)].st = DONE;
  _longjmp(g_sched_env, 1);
}

static void run_block(unsigned nthreads, const std::function<void()>& body) {
  g_th.assign(nthreads, ThreadState{});
  while (g_stacks.size() < nthreads) g_stacks.emplace_back(new char[kStack]);
  g_body = &body;
  for (unsigned i = 0; i < nthreads; ++i) {
    ThreadState& t = g_th[i];
    t.tid = uint3{i % g_blockDim.x, (i / g_blockDim.x) % g_blockDim.y, i / (g_blockDim.x * g_blockDim.y)};
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = g_stacks[i].get();
    t.ctx.uc_stack.ss_size = kStack;
    t.ctx.uc_link = nullptr;
    makecontext(&t.ctx, entry, 0);
  }
  for (;;) {
    for (unsigned i = 0; i < nthreads; ++i) {
      if (g_th[i].st != READY) continue;
      g_cur = int(i);
      if (!_setjmp(g_sched_env)) {
        if (!g_th[i].started) {
          g_th[i].started = true;
          swapcontext(&g_sched, &g_th[i].ctx);
        } else {
          _longjmp(g_th[i].env, 1);
        }
      }
    }
    bool all_done = true, all_block = true, released = false;
    for (auto& t : g_th) {
      if (t.st != DONE) all_done = false;
      if (t.st != DONE && t.st != WAIT_BLOCK) all_block = false;
    }
    if (all_done) break;
    if (all_block) {
      for (auto& t : g_th)
        if (t.st == WAIT_BLOCK) t.st = READY;
      continue;
    }
    for (unsigned w = 0; w * 32 < nthreads; ++w) {
      bool any = false, all = true;
      for (unsigned i = w * 32; i < std::min(nthreads, w * 32 + 32); ++i) {
        if (g_th[i].st == WAIT_WARP)
          any = true;
        else if (g_th[i].st != DONE)
          all = false;
      }
      if (any && all) {
        for (unsigned i = w * 32; i < std::min(nthreads, w * 32 + 32); ++i)
          if (g_th[i].st == WAIT_WARP) g_th[i].st = READY;
        released = true;
      }
    }
    if (!released) {
      std::fprintf(stderr, "EMU: deadlock (barrier divergence) in block (%u,%u,%u)\n", g_blockIdx.x, g_blockIdx.y, g_blockIdx.z);
      std::abort();
    }
  }
  g_cur = -1;
}

static void execute(const Node& n) {
  ++g_launches;
  g_gridDim = n.g;
  g_blockDim = n.b;
  g_smem.assign(n.smem + 64, 0x7f);  // garbage-ish fill (0x7f7f7f7f is a large float)
  const unsigned nthreads = n.b.x * n.b.y * n.b.z;
  for (unsigned z = 0; z < n.g.z; ++z)
    for (unsigned y = 0; y < n.g.y; ++y)
      for (unsigned x = 0; x < n.g.x; ++x) {
        g_blockIdx = dim3(x, y, z);
        run_block(nthreads, n.body);
      }
}

void submit(const void* fn, dim3 grid, dim3 block, size_t smem, std::function<void()> body) {
  const unsigned nthreads = block.x * block.y * block.z;
  auto it = g_smem_attr.find(fn);
  const size_t max_smem = it == g_smem_attr.end() ? 48 * 1024 : size_t(it->second);
  if (nthreads == 0 || nthreads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 ||
      smem > max_smem) {
    std::fprintf(stderr, "EMU: invalid launch config grid (%u,%u,%u) block %u smem %zu (max %zu)\n", grid.x, grid.y, grid.z, nthreads, smem,
                 max_smem);
    g_last = cudaErrorInvalidConfiguration;
    return;
  }
  Node n{grid, block, smem, std::move(body)};
  if (g_capturing)
    g_capture.push_back(std::move(n));
  else
    execute(n);
}
}  // namespace emu

using namespace emu;

struct CUstream_st {
  int dummy;
};
struct CUevent_st {
  int dummy;
};
struct CUgraph_st {
  std::vector<Node> nodes;
};
struct CUgraphExec_st {
  std::vector<Node> nodes;
};
struct cublasContext {
  int dummy;
};

static std::map<void*, size_t> g_allocs;
static bool g_no_device = std::getenv("EMU_NO_DEVICE") != nullptr;

static cudaError_t ret(cudaError_t e) {
  if (e != cudaSuccess) g_last = e;
  return e;
}
#define CAPTURE_FORBIDDEN()                                       \
  do {                                                            \
    if (g_capturing) {                                            \
      std::fprintf(stderr, "EMU: %s during capture\n", __func__); \
      return ret(cudaErrorStreamCaptureUnsupported);              \
    }                                                             \
  } while (0)

cudaError_t cudaGetDeviceCount(int* n) {
  if (g_no_device) {
    *n = 0;
    return ret(cudaErrorNoDevice);
  }
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : ret(cudaErrorInvalidDevice); }
cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof *p);
  std::strcpy(p->name, "Emulated GPU (CPU)");
  p->major = 9, p->minor = 0, p->multiProcessorCount = 1, p->totalGlobalMem = size_t(8) << 30, p->l2CacheSize = 1 << 20;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) {
  *v = 1;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaGetLastError() {
  cudaError_t e = g_last;
  g_last = cudaSuccess;
  return e;
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    default:
      return "emulated error";
  }
}
const char* cudaGetErrorName(cudaError_t e) {
  static thread_local std::string s;
  s = "cudaError" + std::to_string(int(e));
  return s.c_str();
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = new CUstream_st{};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  CAPTURE_FORBIDDEN();
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** p, size_t n) {
  CAPTURE_FORBIDDEN();
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  std::memset(*p, 0xa5, (n + 255) / 256 * 256);  // garbage, like fresh device memory
  g_allocs[*p] = n;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  CAPTURE_FORBIDDEN();
  if (!p) return cudaSuccess;
  auto it = g_allocs.find(p);
  if (it == g_allocs.end()) {
    std::fprintf(stderr, "EMU: cudaFree of unknown pointer\n");
    std::abort();
  }
  g_allocs.erase(it);
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** p, size_t n, unsigned) {
  CAPTURE_FORBIDDEN();
  *p = std::malloc(n);
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* p) {
  CAPTURE_FORBIDDEN();
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) {
  if (g_capturing) {
    g_capture.push_back(Node{dim3(1), dim3(1), 0, [p, v, n] { std::memset(p, v, n); }});
    return cudaSuccess;
  }
  std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  if (g_capturing) {
    std::fprintf(stderr, "EMU: memcpy captured\n");
    g_capture.push_back(Node{dim3(1), dim3(1), 0, [d, s, n] { std::memcpy(d, s, n); }});
    return cudaSuccess;
  }
  std::memcpy(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  *e = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) {
  CAPTURE_FORBIDDEN();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  CAPTURE_FORBIDDEN();
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 1;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  if (g_capturing) return ret(cudaErrorStreamCaptureUnsupported);
  g_capturing = true;
  g_capture.clear();
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* g) {
  if (!g_capturing) return ret(cudaErrorInvalidValue);
  g_capturing = false;
  *g = new CUgraph_st{std::move(g_capture)};
  g_capture.clear();
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long) {
  CAPTURE_FORBIDDEN();
  *e = new CUgraphExec_st{g->nodes};
  return cudaSuccess;
}
long emu_graph_launches = 0;
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t) {
  CAPTURE_FORBIDDEN();
  ++emu_graph_launches;
  for (const auto& n : e->nodes) execute(n);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t emu_func_set_attribute(const void* f, cudaFuncAttribute, int v) {
  emu::g_smem_attr[f] = v;
  return cudaSuccess;
}

// ---- cuBLAS ----
cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = new cublasContext{};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t m) {
  return m == CUBLAS_DEFAULT_MATH ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasGetVersion(cublasHandle_t, int* v) {
  *v = 130001;
  return CUBLAS_STATUS_SUCCESS;
}
static float ld(const void* p, cudaDataType t, size_t i) {
  if (t == CUDA_R_32F) return static_cast<const float*>(p)[i];
  if (t == CUDA_R_16BF) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  std::abort();
}
cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType at, int lda, const void* B, cudaDataType bt, int ldb, const void* beta, void* C,
                            cudaDataType ct, int ldc, cublasComputeType_t, cublasGemmAlgo_t) {
  if (g_capturing) {
    std::fprintf(stderr, "EMU: cuBLAS during capture\n");
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (ta != CUBLAS_OP_T || tb != CUBLAS_OP_N || ct != CUDA_R_32F || at != bt) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (lda < k || ldb < k || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  float* c = static_cast<float*>(C);
  // C(m, n) col-major = A^T (m x k) * B (k x n); A stored (k, m) col-major with lda
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      float acc = 0;
      for (int p = 0; p < k; ++p) acc += ld(A, at, size_t(i) * lda + p) * ld(B, bt, size_t(j) * ldb + p);
      float& o = c[size_t(j) * ldc + i];
      o = a * acc + (b == 0 ? 0.0f : b * o);
    }
  return CUBLAS_STATUS_SUCCESS;
}
namespace {
struct Stats {
  ~Stats() {
    if (std::getenv("EMU_STATS"))
      std::fprintf(stderr, "EMU stats: %ld kernel launches, %ld graph launches\n", emu::g_launches, emu_graph_launches);
  }
} g_stats;
}  // namespace
