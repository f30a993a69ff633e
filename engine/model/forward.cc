#include "engine/model/forward.h"

namespace sb::detail {

void ForwardBuffers::alloc(Backend& b, const ModelConfig& c, int64_t n_rows) {
  rows = n_rows;
  x = b.alloc(rows, c.n_embd, DType::F32);
  h = b.alloc(rows, c.n_embd, DType::F32);
  q = b.alloc(rows, c.q_dim(), DType::F32);
  k = b.alloc(rows, c.kv_dim(), DType::F32);
  v = b.alloc(rows, c.kv_dim(), DType::F32);
  att = b.alloc(rows, c.q_dim(), DType::F32);
  gate = b.alloc(rows, c.n_ff, DType::F32);
  up = b.alloc(rows, c.n_ff, DType::F32);
}

namespace {

// rope, the KV store and attention per sequence: its positions, its own cache
void attention_segments(Backend& b, const ModelConfig& c, const AttentionShape& shape, const std::vector<ForwardSegment>& segments,
                        int64_t l, Tensor& q, Tensor& k, Tensor& v, Tensor& att) {
  for (const ForwardSegment& s : segments) {
    Tensor qs = q.rows_view(s.row0, s.n), ks = k.rows_view(s.row0, s.n), vs = v.rows_view(s.row0, s.n), as = att.rows_view(s.row0, s.n);
    b.rope(qs, c.n_head, shape, s.pos);
    b.rope(ks, c.n_head_kv, shape, s.pos);
    b.kv_store(*s.kv, l, ks, vs, s.pos);
    b.attention(qs, *s.kv, l, s.pos, shape, as);
  }
}

}  // namespace

void forward_layers(const Model& model, const std::vector<AttentionShape>& shapes, ForwardBuffers& buf, const int32_t* ids, int64_t T,
                    const std::vector<ForwardSegment>& segments, const Context::LayerObserver* observer) {
  const ModelConfig& c = model.config();
  Backend& b = model.backend();
  const bool observe = observer && *observer;
  std::vector<float> observed_in, observed_out;
  Tensor x = buf.x.rows_view(0, T), h = buf.h.rows_view(0, T), q = buf.q.rows_view(0, T), k = buf.k.rows_view(0, T),
         v = buf.v.rows_view(0, T), att = buf.att.rows_view(0, T), gate = buf.gate.rows_view(0, T), up = buf.up.rows_view(0, T);
  b.embed(model.tok_embd(), ids, T, x);
  if (c.embd_scale != 0.0f) b.scale(x, c.embd_scale);
  for (int64_t l : model.active_layers()) {
    const LayerWeights& L = model.layer(l);
    if (observe) {
      observed_in.resize(size_t(T * c.n_embd));
      b.download(x, observed_in.data());
    }
    // attention block: x += wo . attn(rope(wq h), rope(wk h), wv h),  h = rmsnorm(x)
    const AttentionShape& shape = shapes[size_t(l)];
    b.rmsnorm(x, L.attn_norm, c.rms_eps, h);
    const Backend::MatmulOut qkv[3] = {{L.wq.get(), &q, L.bq.empty() ? nullptr : &L.bq},
                                       {L.wk.get(), &k, L.bk.empty() ? nullptr : &L.bk},
                                       {L.wv.get(), &v, L.bv.empty() ? nullptr : &L.bv}};
    b.matmul_multi(h, qkv, 3);  // one pass over h (the cpu backend quantizes it once)
    if (c.qk_norm) {            // qwen3: RMS norm of every head before RoPE
      Tensor qh = q.reshaped(T * c.n_head, c.head_dim), kh = k.reshaped(T * c.n_head_kv, c.head_dim);
      b.rmsnorm(qh, L.q_norm, c.rms_eps, qh);
      b.rmsnorm(kh, L.k_norm, c.rms_eps, kh);
    }
    if (segments.size() == 1 && !c.post_norms) {  // one sequence: attention and wo as one op (a backend may fuse them)
      const ForwardSegment& s = segments[0];
      Tensor qs = q.rows_view(s.row0, s.n), ks = k.rows_view(s.row0, s.n), vs = v.rows_view(s.row0, s.n), as = att.rows_view(s.row0, s.n),
             xs = x.rows_view(s.row0, s.n);
      b.attention_block(qs, ks, vs, *s.kv, l, s.pos, shape, as, *L.wo, xs);
    } else {
      attention_segments(b, c, shape, segments, l, q, k, v, att);
      if (c.post_norms) {  // gemma2: x += rmsnorm(wo . attn)
        b.matmul(att, *L.wo, h);
        b.rmsnorm(h, L.post_attn_norm, c.rms_eps, h);
        b.add(x, h);
      } else {
        b.matmul(att, *L.wo, x, nullptr, /*accumulate=*/true);
      }
    }
    // feed-forward block: x += w_down . (act(w_gate h) * (w_up h)),  h = rmsnorm(x)
    b.rmsnorm(x, L.ffn_norm, c.rms_eps, h);
    if (!c.post_norms) {  // the whole block as one op (a backend may fuse it)
      b.feed_forward(h, *L.w_gate, *L.w_up, *L.w_down, c.geglu, gate, up, x);
    } else {
      const Backend::MatmulOut gate_up[2] = {{L.w_gate.get(), &gate, nullptr}, {L.w_up.get(), &up, nullptr}};
      b.matmul_multi(h, gate_up, 2);
      if (c.geglu)
        b.geglu(gate, up, gate);
      else
        b.swiglu(gate, up, gate);
      b.matmul(gate, *L.w_down, h);
      b.rmsnorm(h, L.post_ffn_norm, c.rms_eps, h);
      b.add(x, h);
    }
    if (observe) {
      observed_out.resize(size_t(T * c.n_embd));
      b.download(x, observed_out.data());
      (*observer)(l, T, c.n_embd, observed_in.data(), observed_out.data());
    }
  }
}

}  // namespace sb::detail
