#include "engine/compress/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/error.h"
#include "engine/model/model.h"

namespace sb::compress {

int64_t prune_magnitude(float* w, int64_t n, double fraction) {
  const int64_t k = int64_t(std::floor(fraction * double(n)));
  if (k <= 0) return 0;
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), [&](int64_t a, int64_t b) {
    const float fa = std::fabs(w[a]), fb = std::fabs(w[b]);
    return fa < fb || (fa == fb && a < b);
  });
  for (int64_t i = 0; i < k; ++i) w[idx[size_t(i)]] = 0.0f;
  return k;
}

int64_t prune_2_4(float* w, int64_t rows, int64_t cols) {
  int64_t zeroed = 0;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w + r * cols;
    for (int64_t g = 0; g < cols; g += 4) {
      const int64_t len = std::min<int64_t>(4, cols - g), drop = len / 2;
      // insertion sort of the group's positions by |w| (ties: lower position first)
      int64_t order[4] = {0, 1, 2, 3};
      for (int64_t i = 1; i < len; ++i)
        for (int64_t j = i; j > 0 && std::fabs(row[g + order[j]]) < std::fabs(row[g + order[j - 1]]); --j)
          std::swap(order[j], order[j - 1]);
      for (int64_t i = 0; i < drop; ++i) row[g + order[i]] = 0.0f;
      zeroed += drop;
    }
  }
  return zeroed;
}

namespace {

std::vector<float> matrix(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo* t = f.tensor(name);
  if (!t) fail(f.name(), ": tensor '", name, "' is missing");
  return f.tensor_f32(*t);
}

// Frobenius norm of rows [r0, r0 + n) of a (rows x cols) matrix.
double rows_norm(const std::vector<float>& m, int64_t cols, int64_t r0, int64_t n) {
  double s = 0;
  for (int64_t i = r0 * cols; i < (r0 + n) * cols; ++i) s += double(m[size_t(i)]) * m[size_t(i)];
  return std::sqrt(s);
}

// Frobenius norm of columns [c0, c0 + n) of a (rows x cols) matrix.
double cols_norm(const std::vector<float>& m, int64_t rows, int64_t cols, int64_t c0, int64_t n) {
  double s = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = c0; c < c0 + n; ++c) s += double(m[size_t(r * cols + c)]) * m[size_t(r * cols + c)];
  return std::sqrt(s);
}

}  // namespace

std::vector<std::vector<double>> head_importance(const GgufFile& f, const ModelConfig& c) {
  const int64_t D = c.head_dim, g = c.n_head / c.n_head_kv;
  std::vector<std::vector<double>> out(size_t(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const auto wq = matrix(f, p + "attn_q.weight"), wk = matrix(f, p + "attn_k.weight"), wv = matrix(f, p + "attn_v.weight"),
               wo = matrix(f, p + "attn_output.weight");
    for (int64_t h = 0; h < c.n_head; ++h) {
      const int64_t kv = h / g;
      const double q = rows_norm(wq, c.n_embd, h * D, D), k = rows_norm(wk, c.n_embd, kv * D, D);
      const double v = rows_norm(wv, c.n_embd, kv * D, D), o = cols_norm(wo, c.n_embd, c.q_dim(), h * D, D);
      out[size_t(l)].push_back(o * v * std::sqrt(q * k));
    }
  }
  return out;
}

std::vector<std::vector<int64_t>> heads_to_keep(const std::vector<std::vector<double>>& scores, const ModelConfig& c, int64_t n) {
  const int64_t g = c.n_head / c.n_head_kv;
  if (g > 1 && n % g != 0)
    fail("prune-heads:", n, ": this model groups ", g, " query heads per KV head (", c.n_head, " heads, ", c.n_head_kv,
         " KV heads); whole groups are removed, so N must be a multiple of ", g);
  const int64_t units = c.n_head / g, drop = n / g;
  if (drop >= units)
    fail("prune-heads:", n, ": the model has ", c.n_head, " heads per layer", g > 1 ? cat(" in ", units, " KV groups") : "", "; at least ",
         g, " must remain");
  std::vector<std::vector<int64_t>> keep(scores.size());
  for (size_t l = 0; l < scores.size(); ++l) {
    std::vector<std::pair<double, int64_t>> unit;
    for (int64_t u = 0; u < units; ++u) {
      double s = 0;
      for (int64_t h = u * g; h < (u + 1) * g; ++h) s += scores[l][size_t(h)];
      unit.emplace_back(s, u);
    }
    std::stable_sort(unit.begin(), unit.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<int64_t> kept;
    for (size_t i = size_t(drop); i < unit.size(); ++i)
      for (int64_t h = unit[i].second * g; h < (unit[i].second + 1) * g; ++h) kept.push_back(h);
    std::sort(kept.begin(), kept.end());
    keep[l] = kept;
  }
  return keep;
}

std::vector<double> layer_similarity(std::shared_ptr<const GgufFile> f, Backend& backend, const Tokenizer& tok, const std::string& text,
                                     int64_t n_ctx, int64_t max_tokens) {
  auto model = Model::load(f, backend);
  const ModelConfig& c = model->config();
  std::vector<int32_t> ids = tok.encode(text, true);
  if (int64_t(ids.size()) > max_tokens) ids.resize(size_t(max_tokens));
  if (ids.size() < 2) fail("layer ranking: the calibration text has fewer than 2 tokens");
  n_ctx = std::min(n_ctx, c.n_ctx);
  ContextOptions co;
  co.n_ctx = n_ctx;
  co.kv_type = DType::F32;
  Context ctx(*model, co);
  std::vector<double> sum(size_t(c.n_layer), 0.0);
  int64_t count = 0;
  ctx.set_layer_observer([&](int64_t layer, int64_t T, int64_t C, const float* in, const float* out) {
    for (int64_t t = 0; t < T; ++t) {
      double dot = 0, na = 0, nb = 0;
      for (int64_t i = 0; i < C; ++i) {
        const double a = in[t * C + i], b = out[t * C + i];
        dot += a * b;
        na += a * a;
        nb += b * b;
      }
      sum[size_t(layer)] += na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 1.0;
    }
    if (layer == 0) count += T;
  });
  std::vector<float> logits;
  for (size_t s = 0; s < ids.size(); s += size_t(n_ctx)) {
    const int64_t n = std::min<int64_t>(n_ctx, int64_t(ids.size() - s));
    ctx.rewind(0);
    ctx.eval(ids.data() + s, n, false, logits);
  }
  for (auto& v : sum) v /= double(count);
  return sum;
}

std::vector<int64_t> layers_to_remove(const std::vector<double>& similarity, int64_t n) {
  const int64_t L = int64_t(similarity.size());
  if (n >= L) fail("prune-layers:", n, ": the model has ", L, " layers; at least one must remain");
  std::vector<int64_t> order(static_cast<size_t>(L));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return similarity[size_t(a)] > similarity[size_t(b)]; });
  std::vector<int64_t> out(order.begin(), order.begin() + n);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sb::compress
