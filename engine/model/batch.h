// BatchContext: continuous batching. Several sequences, each with its own KV cache and
// position (a Sequence), run through the model together: one forward pass per step over the
// rows of every sequence that has work, so each weight is read once for all of them.
//
// A step (BatchContext::eval) takes any mix of items: a decode step (one token) of a running
// sequence, or a chunk of a prompt. Rows are stacked in item order; row-wise ops run over
// all rows, RoPE/KV store/attention per item on its own sequence's cache (engine/model/forward.h).
// So a caller can add sequences between steps and split long prompts into chunks that share a
// step with running decodes. Results per sequence equal Context's up to floating-point
// summation order (backends may pick another kernel for another row count; ref is exact).
//
// Contract:
// - max_rows (>= 1) bounds the rows of one step (the sum of the items' n); a step over more,
//   an item with n <= 0, a sequence twice in one step, a token id out of range or a sequence
//   that would pass its n_ctx throw sb::Error and change nothing.
// - Each item asks for the logits of its rows [logits_from, n) (logits_from == n: none);
//   `logits` receives those rows, item after item, n_vocab floats each.
// - A Sequence belongs to the BatchContext that made it (it must not outlive it) and advances
//   by n for every item it appears in. rewind() forgets positions, as Context::rewind.
// Threading: as Context; one thread at a time, the Model's backend is not re-entrant. No CUDA
// step graphs (Context keeps them for single-sequence decoding).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/model/forward.h"
#include "engine/model/model.h"

namespace sb {

class Sequence {
 public:
  int64_t pos() const { return pos_; }
  int64_t n_ctx() const { return n_ctx_; }
  void rewind(int64_t pos);
  size_t kv_bytes() const { return kv_->bytes(); }

 private:
  friend class BatchContext;
  Sequence(std::unique_ptr<KvCache> kv, int64_t n_ctx) : kv_(std::move(kv)), n_ctx_(n_ctx) {}
  std::unique_ptr<KvCache> kv_;
  int64_t n_ctx_;
  int64_t pos_ = 0;
};

class BatchContext {
 public:
  // opt.n_ctx / opt.kv_type apply to every Sequence; opt.n_batch is unused (max_rows bounds a step).
  BatchContext(const Model& model, int64_t max_rows, const ContextOptions& opt = {});
  std::unique_ptr<Sequence> new_sequence() const;

  struct Item {
    Sequence* seq = nullptr;
    const int32_t* ids = nullptr;
    int64_t n = 0;
    int64_t logits_from = 0;  // logits of rows [logits_from, n)
  };
  void eval(const std::vector<Item>& items, std::vector<float>& logits);

  int64_t max_rows() const { return max_rows_; }
  int64_t n_ctx() const { return n_ctx_; }
  const Model& model() const { return model_; }

 private:
  const Model& model_;
  int64_t max_rows_, n_ctx_;
  DType kv_type_;
  std::vector<AttentionShape> shapes_;
  detail::ForwardBuffers buf_;
  Tensor logits_;
  std::vector<int32_t> ids_;
};

}  // namespace sb
