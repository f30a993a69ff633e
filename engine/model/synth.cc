#include "engine/model/synth.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/file_type.h"
#include "engine/gguf/gguf.h"
#include "engine/model/config.h"
#include "engine/model/spark_vocab.h"

namespace sb {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Approximately standard normal: the sum of four 16-bit uniforms, centred and scaled
// (Irwin-Hall); cheap, exact in the first two moments, tails bounded at ~3.5 sigma.
inline float approx_normal(uint64_t bits) {
  const float s = float(bits & 0xffff) + float((bits >> 16) & 0xffff) + float((bits >> 32) & 0xffff) + float(bits >> 48);
  return (s / 65536.0f - 2.0f) * 1.7320508f;  // var of U(0,1) sum of 4 = 1/3
}

std::vector<uint8_t> random_matrix(const std::string& name, int64_t rows, int64_t cols, float stddev, GgmlType t, uint64_t seed) {
  const size_t row_bytes = size_t(ggml_row_bytes(t, cols));
  std::vector<uint8_t> out(row_bytes * size_t(rows));
  const uint64_t base = splitmix64(seed ^ hash_name(name));
  {  // a type without a quantizer throws here, in the calling thread: an exception must not leave
     // the parallel region below (that aborts the process)
    std::vector<float> zeros(size_t(ggml_block_size(t)));
    std::vector<uint8_t> block(size_t(ggml_block_bytes(t)));
    quantize_row(t, zeros.data(), block.data(), ggml_block_size(t));
  }
#pragma omp parallel
  {
    std::vector<float> row(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      uint64_t state = splitmix64(base + uint64_t(r));
      for (int64_t c = 0; c < cols; ++c) {
        state = splitmix64(state);
        row[size_t(c)] = approx_normal(state) * stddev;
      }
      quantize_row(t, row.data(), out.data() + size_t(r) * row_bytes, cols);
    }
  }
  return out;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Norm weights: all 1, or 1 + N(0, jitter^2) drawn from the tensor's name and the seed.
std::vector<uint8_t> norm_weights(const std::string& name, int64_t n, float jitter, uint64_t seed) {
  if (jitter == 0.0f) return f32_bytes(std::vector<float>(static_cast<size_t>(n), 1.0f));
  std::vector<uint8_t> out = random_matrix(name, 1, n, jitter, GgmlType::F32, seed);
  for (int64_t i = 0; i < n; ++i) {
    float v;
    std::memcpy(&v, out.data() + i * 4, 4);
    v += 1.0f;
    std::memcpy(out.data() + i * 4, &v, 4);
  }
  return out;
}

// Llama 3.1's rope_freqs.weight as the llama.cpp converter computes it (scaling factor 8,
// low/high frequency factors 1/4, original context 8192): 1 for short wavelengths, 8 for long
// ones, smoothly in between.
std::vector<float> llama3_rope_freqs(float base, int64_t n_rot) {
  const double factor = 8.0, low = 1.0, high = 4.0, old_ctx = 8192.0;
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int64_t i = 0; i < n_rot; i += 2) {
    const double freq = 1.0 / std::pow(double(base), double(i) / double(n_rot));
    const double wavelen = 2.0 * M_PI / freq;
    if (wavelen < high_wavelen)
      out.push_back(1.0f);
    else if (wavelen > low_wavelen)
      out.push_back(float(factor));
    else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back(float(1.0 / ((1.0 - smooth) / factor + smooth)));
    }
  }
  return out;
}

}  // namespace

std::string synth_file_name(const SynthOptions& opt) {
  return cat(opt.preset, "-", ggml_type_name(uint32_t(opt.dtype)), "-s", opt.seed, ".gguf");
}

void synthesize_model(const SynthOptions& opt, const std::string& path) {
  const Preset& p = find_preset(opt.preset);
  const ModelConfig& c = p.config;
  GgufWriter w;
  const std::string a = c.arch + ".";
  w.set("general.architecture", GgufValue::string(c.arch));
  w.set("general.name", GgufValue::string(c.name));
  w.set("general.description", GgufValue::string(p.description + " (synthetic weights, seed " + std::to_string(opt.seed) + ")"));
  w.set("general.file_type", GgufValue::u32(uint32_t(llama_file_type_of(opt.dtype).value_or(0))));
  w.set("general.quantization_version", GgufValue::u32(2));
  w.set("sparkbench.synthetic", GgufValue::boolean(true));
  w.set("sparkbench.seed", GgufValue::u64(opt.seed));
  w.set(a + "context_length", GgufValue::u32(uint32_t(c.n_ctx)));
  w.set(a + "embedding_length", GgufValue::u32(uint32_t(c.n_embd)));
  w.set(a + "block_count", GgufValue::u32(uint32_t(c.n_layer)));
  w.set(a + "feed_forward_length", GgufValue::u32(uint32_t(c.n_ff)));
  w.set(a + "rope.dimension_count", GgufValue::u32(uint32_t(c.n_rot)));
  w.set(a + "attention.head_count", GgufValue::u32(uint32_t(c.n_head)));
  w.set(a + "attention.head_count_kv", GgufValue::u32(uint32_t(c.n_head_kv)));
  if (c.head_dim != c.n_embd / c.n_head) {
    w.set(a + "attention.key_length", GgufValue::u32(uint32_t(c.head_dim)));
    w.set(a + "attention.value_length", GgufValue::u32(uint32_t(c.head_dim)));
  }
  w.set(a + "attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_eps));
  w.set(a + "rope.freq_base", GgufValue::f32(c.rope_base));
  if (c.rope_freq_scale != 1.0f) {
    w.set(a + "rope.scaling.type", GgufValue::string("linear"));
    w.set(a + "rope.scaling.factor", GgufValue::f32(1.0f / c.rope_freq_scale));
  }
  if (c.arch == "gemma2") {
    w.set(a + "attn_logit_softcapping", GgufValue::f32(c.attn_softcap));
    w.set(a + "final_logit_softcapping", GgufValue::f32(c.final_softcap));
  }
  if (c.n_swa > 0) w.set(a + "attention.sliding_window", GgufValue::u32(uint32_t(c.n_swa)));
  w.set(a + "vocab_size", GgufValue::u32(uint32_t(c.n_vocab)));

  const auto vocab = make_spark_vocab(int(c.n_vocab));
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const auto& e : vocab) {
    tokens.push_back(e.text);
    scores.push_back(e.score);
    types.push_back(e.type);
  }
  w.set("tokenizer.ggml.model", GgufValue::string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::strings(tokens));
  w.set("tokenizer.ggml.scores", GgufValue::f32s(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::i32s(types));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(0));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
  if (!opt.chat_template.empty()) w.set("tokenizer.chat_template", GgufValue::string(opt.chat_template));

  const float s_in = p.init_std, s_out = p.init_std / std::sqrt(2.0f * float(c.n_layer));
  const float jit = p.norm_jitter;
  const GgmlType t = opt.dtype;
  w.add_tensor("token_embd.weight", t, {c.n_embd, c.n_vocab}, random_matrix("token_embd.weight", c.n_vocab, c.n_embd, s_in, t, opt.seed));
  w.add_tensor("output_norm.weight", GgmlType::F32, {c.n_embd}, norm_weights("output_norm.weight", c.n_embd, jit, opt.seed));
  if (!c.tied_output)
    w.add_tensor("output.weight", t, {c.n_embd, c.n_vocab}, random_matrix("output.weight", c.n_vocab, c.n_embd, s_in, t, opt.seed));
  if (c.rope_freqs) w.add_tensor("rope_freqs.weight", GgmlType::F32, {c.n_rot / 2}, f32_bytes(llama3_rope_freqs(c.rope_base, c.n_rot)));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    auto mat = [&](const std::string& n, int64_t in, int64_t out, float sd) {
      w.add_tensor(b + n, t, {in, out}, random_matrix(b + n, out, in, sd, t, opt.seed));
    };
    auto norm = [&](const std::string& n, int64_t size) {
      w.add_tensor(b + n, GgmlType::F32, {size}, norm_weights(b + n, size, jit, opt.seed));
    };
    norm("attn_norm.weight", c.n_embd);
    if (c.fused_qkv) {
      mat("attn_qkv.weight", c.n_embd, c.q_dim() + 2 * c.kv_dim(), s_in);
    } else {
      mat("attn_q.weight", c.n_embd, c.q_dim(), s_in);
      mat("attn_k.weight", c.n_embd, c.kv_dim(), s_in);
      mat("attn_v.weight", c.n_embd, c.kv_dim(), s_in);
    }
    if (c.qk_norm) {
      norm("attn_q_norm.weight", c.head_dim);
      norm("attn_k_norm.weight", c.head_dim);
    }
    mat("attn_output.weight", c.q_dim(), c.n_embd, s_out);
    if (c.post_norms) norm("post_attention_norm.weight", c.n_embd);
    norm("ffn_norm.weight", c.n_embd);
    if (c.fused_gate_up) {
      mat("ffn_up.weight", c.n_embd, 2 * c.n_ff, s_in);
    } else {
      mat("ffn_gate.weight", c.n_embd, c.n_ff, s_in);
      mat("ffn_up.weight", c.n_embd, c.n_ff, s_in);
    }
    mat("ffn_down.weight", c.n_ff, c.n_embd, s_out);
    if (c.post_norms) norm("post_ffw_norm.weight", c.n_embd);
  }
  w.write(path);
}

}  // namespace sb
