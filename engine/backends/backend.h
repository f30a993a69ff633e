// Backend: the op-level interface every compute backend implements (ref, cpu/oneDNN, cuda).
//
// The model (engine/model) drives a forward pass as a sequence of these ops on Tensors that the
// backend allocated; it never touches tensor memory directly, so a backend may keep everything
// in device memory and run ops asynchronously on its own stream. Host <-> backend transfers are
// explicit (upload/download); download() waits for the ops before it. Shapes in comments:
// (rows, cols), row-major, rows = tokens.
//
// Threading: one Backend instance serves one model instance from one thread at a time. Ops may
// use internal parallelism (OpenMP threads for CPU backends, streams for CUDA).
// Failures (unsupported dtype, out of memory, device errors) throw sb::Error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/ggml_types.h"
#include "engine/core/rope_style.h"

namespace sb {

class Backend;

// A recorded decode step owned by the caller (see Backend::run_step_graph).
class StepGraph {
 public:
  virtual ~StepGraph() = default;
};

// Element types of backend tensors (activations, norms, KV cache).
enum class DType : uint8_t { F32, F16, BF16 };
const char* dtype_name(DType t);
DType dtype_from_name(const std::string& name);  // throws sb::Error on unknown
size_t dtype_size(DType t);

// A 2-D tensor in backend memory (host memory for ref/cpu, device memory for cuda).
// Copies share the same memory; rows_view() gives a sub-range of rows without copying.
class Tensor {
 public:
  Tensor() = default;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  DType dtype() const { return dtype_; }
  bool empty() const { return !mem_; }
  size_t bytes() const { return size_t(rows_ * cols_) * dtype_size(dtype_); }
  // Rows [r0, r0 + n) of this tensor (same memory).
  Tensor rows_view(int64_t r0, int64_t n) const;
  // The same memory seen as (rows, cols) with rows * cols == this->rows() * this->cols(), e.g.
  // (T, n_head * head_dim) as (T * n_head, head_dim) for a per-head op.
  Tensor reshaped(int64_t rows, int64_t cols) const;
  // Raw pointer for the owning backend's use only.
  void* data() const { return static_cast<char*>(mem_.get()) + offset_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data());
  }

  // Used by backends to create tensors over memory they allocated.
  Tensor(std::shared_ptr<void> mem, size_t offset, int64_t rows, int64_t cols, DType dt)
      : mem_(std::move(mem)), offset_(offset), rows_(rows), cols_(cols), dtype_(dt) {}

 private:
  std::shared_ptr<void> mem_;
  size_t offset_ = 0;
  int64_t rows_ = 0, cols_ = 0;
  DType dtype_ = DType::F32;
};

// Where a weight matrix comes from: `rows` output features x `cols` input features, stored as
// GGUF stores it (row n holds the `cols` weights of output n) in `type`. `data` is host memory
// (usually the model file's mmap) that stays valid for the model's lifetime.
//
// Compression variants add in-memory formats that are not GGUF types (see `format`): with
// WeightFormat::Int8PerChannel, `data` holds rows x cols int8 values (row-major, row n = output
// n, values in [-127, 127]) and `scales` holds `rows` f32 scales, w[n][k] = scales[n] * q[n][k];
// `type` then names the type the weights were quantized from (informational only). A backend
// that does not implement a format says so through supports_format() (the loader fails with a
// clear message instead of misreading the bytes).
enum class WeightFormat : uint8_t { Ggml, Int8PerChannel };
const char* weight_format_name(WeightFormat f);

struct WeightSource {
  std::string name;
  GgmlType type = GgmlType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  WeightFormat format = WeightFormat::Ggml;
  const float* scales = nullptr;  // Int8PerChannel: one per row
  // `data` lies in a read-only file mapping: a backend that keeps its own copy may drop those
  // pages (a later read faults them in again). Never set for memory a caller owns, where
  // dropping pages would zero them.
  bool file_pages = false;
};

// A weight matrix prepared by a backend (repacked, uploaded or used in place).
class Weight {
 public:
  virtual ~Weight() = default;
  int64_t rows() const { return rows_; }  // N (outputs)
  int64_t cols() const { return cols_; }  // K (inputs)
  GgmlType source_type() const { return type_; }
  WeightFormat format() const { return format_; }
  // Bytes the backend holds for this weight (resident or device), for memory reports.
  virtual size_t bytes() const = 0;
  // Bytes of the matrix in its own format (the GGUF type's rows, or int8 values + f32 scales),
  // whatever copies or layouts the backend keeps (those count in bytes()): the model's size.
  size_t format_bytes() const {
    if (format_ == WeightFormat::Int8PerChannel) return size_t(rows_) * (size_t(cols_) + sizeof(float));
    return size_t(rows_) * size_t(ggml_row_bytes(type_, cols_));
  }

 protected:
  Weight(int64_t rows, int64_t cols, GgmlType type) : rows_(rows), cols_(cols), type_(type) {}
  int64_t rows_, cols_;
  GgmlType type_;
  WeightFormat format_ = WeightFormat::Ggml;  // set by backends that load other formats
};

// Per-layer key/value cache: for each layer, K and V as (n_ctx, kv_dim) in `dtype`.
class KvCache {
 public:
  virtual ~KvCache() = default;
  int64_t n_layer() const { return n_layer_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t kv_dim() const { return kv_dim_; }
  DType dtype() const { return dtype_; }
  virtual size_t bytes() const = 0;

 protected:
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt) : n_layer_(n_layer), n_ctx_(n_ctx), kv_dim_(kv_dim), dtype_(dt) {}
  int64_t n_layer_, n_ctx_, kv_dim_;
  DType dtype_;
};

// How a backend should execute matmuls: the arithmetic type of the products. Q8 (cpu backend
// only): block-quantized weights multiply activations quantized to 8-bit blocks in integers, as
// llama.cpp does on CPUs (engine/backends/cpu/qdot.h); other weights run as under F32.
enum class ComputeType : uint8_t { F32, BF16, Q8 };

struct BackendOptions {
  int threads = 0;  // 0 = all hardware threads
  ComputeType compute = ComputeType::F32;
  int device = 0;  // GPU ordinal (cuda)
};

// Attention geometry and the per-architecture variations of rope/attention (llama.cpp's
// ggml_rope_ext and llm_build_kqv semantics).
struct AttentionShape {
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_rot = 0;
  float rope_base = 10000.0f;
  RopeStyle rope_style = RopeStyle::Interleaved;
  // RoPE angle of pair i (i < n_rot / 2) at position p:
  //   freq_scale * (p * base^(-2i / n_rot)) / freq_factors[i]
  // computed as p * theta_scale^i by repeated float multiplication, then divided by the factor,
  // then scaled. freq_scale = 1 / linear scaling factor; freq_factors: (1, n_rot / 2) F32
  // (llama3's rope_freqs.weight) or empty for all 1.
  float freq_scale = 1.0f;
  Tensor freq_factors;
  // Attention logit of query q and key k: s = dot(q, k) * kq_scale(); with softcap > 0,
  // s = softcap * tanh(s / softcap) (gemma2); then softmax over the visible keys.
  float attn_scale = 0.0f;  // 0: 1 / sqrt(head_dim)
  float softcap = 0.0f;     // 0: none
  // Sliding window: with window > 0, the query at position p sees keys at positions
  // p - window + 1 .. p only (llama.cpp masks p - pos_k >= n_swa). 0: all earlier positions.
  int64_t window = 0;
  float kq_scale() const;
  // The first key position visible to a query that sees n_ctx positions (0 without a window).
  int64_t first_key(int64_t n_ctx) const { return window > 0 && n_ctx > window ? n_ctx - window : 0; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // A one-line description (ISA, library versions, device, threads).
  virtual std::string describe() const = 0;

  // ---- memory ----
  virtual Tensor alloc(int64_t rows, int64_t cols, DType dt) = 0;
  virtual void upload(Tensor& dst, const float* src) = 0;    // dst must be F32, rows*cols values
  virtual void download(const Tensor& src, float* dst) = 0;  // any dtype -> f32; waits for pending ops
  virtual std::unique_ptr<Weight> load_weight(const WeightSource& src) = 0;
  // Whether load_weight() accepts weights in format `f` (every backend reads WeightFormat::Ggml).
  virtual bool supports_format(WeightFormat f) const { return f == WeightFormat::Ggml; }
  virtual std::unique_ptr<KvCache> create_kv_cache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt) = 0;
  virtual void synchronize() {}

  // ---- ops ----
  // Public and non-virtual: each checks its operands' shapes once, the same way for every
  // backend (sb::Error naming the op and the shapes: "matmul: x is 3 x 64 but the weight has
  // 128 inputs"), then calls the backend's do_<op>. Backends implement the do_ functions below.
  // x(T, C) = rows `ids[t]` of the embedding table (C = table.cols()).
  void embed(const Weight& table, const int32_t* ids, int64_t n, Tensor& x);
  // out = x / sqrt(mean(x^2) + eps) * w, per row. w: (1, C) F32. out may alias x.
  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out);
  // y(T, N) = x(T, K) . W^T (+ bias(1, N)) (+ y if accumulate).
  void matmul(const Tensor& x, const Weight& w, Tensor& y, const Tensor* bias = nullptr, bool accumulate = false);
  // Several products of one input: for each i < n, outs[i].y = x . outs[i].w^T (+ outs[i].bias)
  // -- the same results as n matmul() calls (no accumulate). Lets a backend prepare x once
  // (e.g. quantize it) and run all products in one parallel pass (Q/K/V, gate/up). The y
  // tensors must not alias x or each other. Default: n do_matmul calls.
  struct MatmulOut {
    const Weight* w = nullptr;
    Tensor* y = nullptr;
    const Tensor* bias = nullptr;
  };
  void matmul_multi(const Tensor& x, const MatmulOut* outs, int n);
  // Rotary embedding in place on x(T, n_heads * head_dim); row t is at position pos0 + t.
  void rope(Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0);
  // Writes k, v (T, kv_dim) into the cache at positions pos0 .. pos0 + T - 1 of `layer`.
  void kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0);
  // Causal attention: out(T, n_head * head_dim); query row t (position pos0 + t) attends to
  // cached positions 0 .. pos0 + t with scale 1/sqrt(head_dim); grouped KV heads.
  void attention(const Tensor& q, const KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s, Tensor& out);
  // out(T, F) = silu(gate) * up.
  void swiglu(const Tensor& gate, const Tensor& up, Tensor& out);
  // out(T, F) = gelu(gate) * up, gelu in the tanh approximation (ggml_gelu):
  // 0.5 g (1 + tanh(sqrt(2/pi) g (1 + 0.044715 g^2))).
  void geglu(const Tensor& gate, const Tensor& up, Tensor& out);
  // Attention of one sequence's rows and its output projection, as one op (the part of a
  // layer's attention block after the Q/K/V products, without post-norms):
  //   rope(q, n_head), rope(k, n_head_kv), kv_store(cache, layer, k, v, pos0),
  //   attention(q, cache, layer, pos0, s, att), x += att . wo^T
  // q, k are rotated in place; att (T, n_head * head_dim) is the caller's. The results are those
  // of the ops in sequence -- the default does exactly that. A backend may run it as one pass
  // (the cpu backend at decode sizes: one parallel region, heads split over the threads,
  // bit-identical to the sequence).
  void attention_block(Tensor& q, Tensor& k, const Tensor& v, KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s,
                       Tensor& att, const Weight& wo, Tensor& x);
  // The feed-forward block of a layer without post-norms, as one op:
  //   g = h . w_gate^T,  u = h . w_up^T,  g = act(g) * u,  x += g . w_down^T
  // with act = silu (swiglu) or, with geglu, gelu as in geglu(). h(T, C), g and u (T, F) are
  // the caller's; afterwards g holds act(g) * u and u its product (scratch). The results are
  // those of matmul_multi(h, {gate, up}), swiglu/geglu(g, u, g) and matmul(g, w_down, x,
  // accumulate) in sequence -- the default does exactly that. A backend may run the block as
  // one pass (the cpu backend at decode sizes: one parallel region, bit-identical to the
  // sequence). g, u must not alias h, x or each other.
  void feed_forward(const Tensor& h, const Weight& w_gate, const Weight& w_up, const Weight& w_down, bool geglu, Tensor& g, Tensor& u,
                    Tensor& x);
  // x += y (same shape).
  void add(Tensor& x, const Tensor& y);
  // x *= s.
  void scale(Tensor& x, float s);
  // x = cap * tanh(x / cap) (logit soft-capping), cap > 0.
  void softcap(Tensor& x, float cap);

  // Whether this backend runs `op` on weights stored as `weight_type` in `format` (the ops
  // that read a Weight: embed, matmul; the others take any). Default: the types sparkbench
  // reads (ggml_type_supported) in the formats supports_format() accepts. Op tests ask this
  // and report the cases a backend does not run as unsupported instead of skipping.
  enum class Op { embed, rmsnorm, matmul, rope, kv_store, attention, swiglu, geglu, add, scale, softcap };
  virtual bool supports(Op op, GgmlType weight_type, WeightFormat format = WeightFormat::Ggml) const;

  // ---- optional hooks (the defaults in backend.cc are correct for every backend) ----
  // out[r] = the index of the largest value of row r of logits (R, V), the lowest index among
  // equal maxima (as sb::argmax); NaN never wins. `out` is host memory of R values. Default:
  // download + host loop. A device backend picks on the device and copies back R ids.
  virtual void argmax_rows(const Tensor& logits, int32_t* out);

  // Decode-step graphs. A single-token forward step is the same op sequence every time except
  // for the token id and the position, so a backend may record it once and replay it (CUDA
  // graphs). `record` issues exactly the ops of one step (T = 1) for `token` at `pos`. Returns
  // false when the caller must run the step itself (the default; also a backend's first call
  // for a new `graph`, a warm-up). Returns true when the step for (token, pos) has been
  // issued: `graph` was empty of a recording, `record` was called while the backend recorded
  // (ops are captured, not run) and the recording was launched, or an earlier recording was
  // launched again. The caller owns `graph` (one per sequence) and must reset it whenever
  // anything the recorded ops touch changes: reallocated tensors, another set of layers.
  virtual bool run_step_graph(std::unique_ptr<StepGraph>& /*graph*/, int32_t /*token*/, int64_t /*pos*/,
                              const std::function<void()>& /*record*/) {
    return false;
  }

 protected:
  // The ops behind the public functions above, called with operands already checked.
  virtual void do_embed(const Weight& table, const int32_t* ids, int64_t n, Tensor& x) = 0;
  virtual void do_rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out) = 0;
  virtual void do_matmul(const Tensor& x, const Weight& w, Tensor& y, const Tensor* bias, bool accumulate) = 0;
  virtual void do_matmul_multi(const Tensor& x, const MatmulOut* outs, int n) {
    for (int i = 0; i < n; ++i) do_matmul(x, *outs[i].w, *outs[i].y, outs[i].bias, false);
  }
  virtual void do_rope(Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0) = 0;
  virtual void do_kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0) = 0;
  virtual void do_attention(const Tensor& q, const KvCache& cache, int64_t layer, int64_t pos0, const AttentionShape& s, Tensor& out) = 0;
  virtual void do_swiglu(const Tensor& gate, const Tensor& up, Tensor& out) = 0;
  virtual void do_geglu(const Tensor& gate, const Tensor& up, Tensor& out) = 0;
  virtual void do_attention_block(Tensor& q, Tensor& k, const Tensor& v, KvCache& cache, int64_t layer, int64_t pos0,
                                  const AttentionShape& s, Tensor& att, const Weight& wo, Tensor& x);
  virtual void do_feed_forward(const Tensor& h, const Weight& w_gate, const Weight& w_up, const Weight& w_down, bool geglu, Tensor& g,
                               Tensor& u, Tensor& x);
  virtual void do_add(Tensor& x, const Tensor& y) = 0;
  virtual void do_scale(Tensor& x, float s) = 0;
  virtual void do_softcap(Tensor& x, float cap) = 0;
};

// Names of the backends usable in this process: compiled in and, for "cuda", with a device
// present ("ref", "cpu", "cuda"). create_backend() explains why a compiled-in one is unusable.
// Probing "cuda" loads the CUDA plugin and initializes the CUDA runtime (see
// engine/backends/cuda/plugin_abi.h), so code that only needs names uses compiled_backends().
std::vector<std::string> available_backends();
// Names of the backends compiled into this build, without probing any device.
std::vector<std::string> compiled_backends();
// Creates a backend by name; throws sb::Error for an unknown or unavailable one.
std::unique_ptr<Backend> create_backend(const std::string& name, const BackendOptions& opt = {});

}  // namespace sb
