#include "engine/model/batch.h"

#include <algorithm>
#include <set>

#include "engine/core/error.h"

namespace sb {

void Sequence::rewind(int64_t pos) {
  if (pos < 0 || pos > pos_) fail("cannot rewind to position ", pos, " (at ", pos_, ")");
  pos_ = pos;
}

BatchContext::BatchContext(const Model& model, int64_t max_rows, const ContextOptions& opt) : model_(model) {
  const ModelConfig& c = model.config();
  if (max_rows < 1) fail("batch: max_rows must be >= 1 (got ", max_rows, ")");
  n_ctx_ = opt.n_ctx > 0 ? opt.n_ctx : c.n_ctx;
  max_rows_ = max_rows;
  kv_type_ = opt.kv_type;
  for (int64_t l = 0; l < c.n_layer; ++l) shapes_.push_back(model.attention_shape(l));
  buf_.alloc(model.backend(), c, max_rows_);
}

std::unique_ptr<Sequence> BatchContext::new_sequence() const {
  const ModelConfig& c = model_.config();
  return std::unique_ptr<Sequence>(new Sequence(model_.backend().create_kv_cache(c.n_layer, n_ctx_, c.kv_dim(), kv_type_), n_ctx_));
}

void BatchContext::eval(const std::vector<Item>& items, std::vector<float>& logits) {
  const ModelConfig& c = model_.config();
  const int64_t V = c.n_vocab;
  Backend& b = model_.backend();
  // validate everything before touching any cache
  int64_t T = 0, R = 0;
  std::set<const Sequence*> seen;
  for (const Item& it : items) {
    if (!it.seq) fail("batch: item without a sequence");
    if (it.n <= 0) fail("batch: an item needs at least one token");
    if (it.logits_from < 0 || it.logits_from > it.n) fail("batch: first logits row ", it.logits_from, " out of range");
    if (!seen.insert(it.seq).second) fail("batch: a sequence appears twice in one step");
    if (it.seq->pos_ + it.n > it.seq->n_ctx_)
      fail("sequence of ", it.seq->pos_ + it.n, " tokens exceeds the context of ", it.seq->n_ctx_, " tokens");
    for (int64_t i = 0; i < it.n; ++i)
      if (it.ids[i] < 0 || it.ids[i] >= V) fail("token id ", it.ids[i], " out of range [0, ", V, ")");
    T += it.n;
    R += it.n - it.logits_from;
  }
  if (T > max_rows_) fail("batch: a step of ", T, " rows exceeds the batch of ", max_rows_, " rows");
  logits.resize(size_t(R * V));
  if (T == 0) return;
  ids_.clear();
  std::vector<detail::ForwardSegment> segs;
  for (const Item& it : items) {
    segs.push_back({it.seq->kv_.get(), it.seq->pos_, int64_t(ids_.size()), it.n});
    ids_.insert(ids_.end(), it.ids, it.ids + it.n);
  }
  detail::forward_layers(model_, shapes_, buf_, ids_.data(), T, segs, nullptr);
  for (const Item& it : items) it.seq->pos_ += it.n;
  if (R == 0) return;
  // Gather the wanted rows into h while normalizing them (rmsnorm writes to another tensor),
  // then one output product over all of them.
  int64_t r = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const int64_t n = items[i].n - items[i].logits_from;
    if (n == 0) continue;
    Tensor xr = buf_.x.rows_view(segs[i].row0 + items[i].logits_from, n), hr = buf_.h.rows_view(r, n);
    b.rmsnorm(xr, model_.output_norm(), c.rms_eps, hr);
    r += n;
  }
  if (logits_.empty() || logits_.rows() < R) logits_ = b.alloc(std::max(R, std::min<int64_t>(max_rows_, 64)), V, DType::F32);
  Tensor lg = logits_.rows_view(0, R);
  b.matmul(buf_.h.rows_view(0, R), model_.output(), lg);
  if (c.final_softcap > 0.0f) b.softcap(lg, c.final_softcap);
  b.download(lg, logits.data());
}

}  // namespace sb
