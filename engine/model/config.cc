#include "engine/model/config.h"

#include <cmath>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"

namespace sb {

int64_t ModelConfig::n_params() const {
  int64_t per_layer = 2 * n_embd                                  // attn + ffn norms
                      + n_embd * q_dim() + 2 * n_embd * kv_dim()  // wq, wk, wv
                      + q_dim() * n_embd                          // wo
                      + 3 * n_embd * n_ff;                        // gate, up, down
  if (qkv_bias) per_layer += q_dim() + 2 * kv_dim();
  if (qk_norm) per_layer += 2 * head_dim;
  if (post_norms) per_layer += 2 * n_embd;
  return n_vocab * n_embd * (tied_output ? 1 : 2) + n_embd + n_layer * per_layer + (rope_freqs ? n_rot / 2 : 0);
}

void ModelConfig::set_arch_defaults() {
  rope_style = arch == "llama" ? RopeStyle::Interleaved : RopeStyle::NeoX;
  qk_norm = arch == "qwen3";
  fused_qkv = fused_gate_up = arch == "phi3";
  geglu = post_norms = swa_even_layers = arch == "gemma2";
  if (arch == "gemma2") {
    tied_output = true;  // llama.cpp reads the output projection from token_embd.weight
    embd_scale = std::sqrt(float(n_embd));
    // llama.cpp (build_gemma2): 1/sqrt(head_dim), except 1/sqrt(n_embd / n_head) for the
    // 46-layer 27B model (its query_pre_attn_scalar).
    attn_scale = n_layer == 46 ? 1.0f / std::sqrt(float(n_embd / n_head)) : 1.0f / std::sqrt(float(head_dim));
    attn_softcap = 50.0f;
    final_softcap = 30.0f;
    n_swa = 4096;
  }
  if (arch == "phi3") {
    // llama.cpp's defaults for Phi-3 files written before the key existed
    if ((n_layer == 32 || n_layer == 40) && n_ctx == 4096)
      n_swa = 2047;
    else if (n_layer == 32 && n_head_kv == 32 && n_ctx == 131072)
      n_swa = 262144;
    else if (n_layer == 40 && n_ctx == 131072)
      n_swa = 131072;
  }
}

std::vector<std::string> ModelConfig::features() const {
  std::vector<std::string> v;
  if (qkv_bias) v.push_back("qkv bias");
  if (rope_freqs) v.push_back("rope_freqs");
  if (rope_freq_scale != 1.0f) v.push_back(cat("linear rope scaling x", 1.0f / rope_freq_scale));
  if (qk_norm) v.push_back("per-head q/k norm");
  if (fused_qkv) v.push_back("fused qkv");
  if (fused_gate_up) v.push_back("fused gate/up");
  if (geglu) v.push_back("geglu");
  if (post_norms) v.push_back("post norms");
  if (embd_scale != 0.0f) v.push_back(cat("embeddings x", embd_scale));
  if (attn_scale != 0.0f) v.push_back(cat("attention scale ", attn_scale));
  if (attn_softcap > 0.0f) v.push_back(cat("attention soft-cap ", attn_softcap));
  if (final_softcap > 0.0f) v.push_back(cat("final soft-cap ", final_softcap));
  if (n_swa > 0) v.push_back(cat("window ", n_swa, swa_even_layers ? " on even layers" : " on all layers"));
  return v;
}

namespace {
const char* const kArchs = "llama, qwen2, qwen3, gemma2, phi3";
}

ModelConfig ModelConfig::from_gguf(const GgufFile& f) {
  ModelConfig c;
  c.arch = f.get_string("general.architecture", "");
  if (c.arch.empty()) fail(f.name(), ": metadata 'general.architecture' is missing");
  if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "qwen3" && c.arch != "gemma2" && c.arch != "phi3")
    fail(f.name(), ": architecture '", c.arch, "' is not supported (", kArchs, ")");
  c.name = f.get_string("general.name", "");
  const std::string a = c.arch + ".";
  c.n_embd = f.require_int(a + "embedding_length");
  c.n_layer = f.require_int(a + "block_count");
  c.n_head = f.require_int(a + "attention.head_count");
  c.n_head_kv = f.get_int(a + "attention.head_count_kv", c.n_head);
  c.n_ff = f.require_int(a + "feed_forward_length");
  c.n_ctx = f.get_int(a + "context_length", 2048);
  c.rms_eps = float(f.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5));
  c.rope_base = float(f.get_float(a + "rope.freq_base", 10000.0));
  c.qkv_bias = f.tensor("blk.0.attn_q.bias") != nullptr;

  auto positive = [&](int64_t v, const std::string& key, int64_t max) {
    if (v <= 0 || v > max) fail(f.name(), ": metadata '", key, "' = ", v, " is out of range (1..", max, ")");
  };
  positive(c.n_embd, a + "embedding_length", 1 << 16);
  positive(c.n_layer, a + "block_count", 4096);
  positive(c.n_head, a + "attention.head_count", 1024);
  positive(c.n_head_kv, a + "attention.head_count_kv", 1024);
  positive(c.n_ff, a + "feed_forward_length", 1 << 20);
  positive(c.n_ctx, a + "context_length", 1 << 24);
  if (c.n_head % c.n_head_kv != 0) fail(f.name(), ": head_count ", c.n_head, " is not a multiple of head_count_kv ", c.n_head_kv);
  c.head_dim = f.get_int(a + "attention.key_length", c.n_embd / c.n_head);
  if (c.head_dim <= 0 || c.head_dim % 2 != 0 || c.head_dim > 1024)
    fail(f.name(), ": head dimension ", c.head_dim, " must be even and positive");
  if (f.get_int(a + "attention.value_length", c.head_dim) != c.head_dim)
    fail(f.name(), ": metadata '", a, "attention.value_length' = ", f.get_int(a + "attention.value_length", 0),
         " differs from the key length ", c.head_dim, " (not supported)");
  c.n_rot = f.get_int(a + "rope.dimension_count", c.head_dim);
  if (c.n_rot <= 0 || c.n_rot > c.head_dim || c.n_rot % 2 != 0)
    fail(f.name(), ": metadata '", a, "rope.dimension_count' = ", c.n_rot, " must be even and <= head dimension ", c.head_dim);
  if (c.arch == "llama" && c.n_rot != c.head_dim)
    fail(f.name(), ": metadata '", a, "rope.dimension_count' = ", c.n_rot, " must equal the head dimension ", c.head_dim, " for llama");

  const GgufTensorInfo* emb = f.tensor("token_embd.weight");
  if (!emb) fail(f.name(), ": tensor 'token_embd.weight' is missing");
  if (emb->ne.size() != 2 || emb->ne[0] != c.n_embd) fail(f.name(), ": tensor 'token_embd.weight' must be [", c.n_embd, ", n_vocab]");
  c.n_vocab = emb->ne[1];
  if (const GgufValue* v = f.find(a + "vocab_size")) {
    if (v->as_int() != c.n_vocab)
      fail(f.name(), ": metadata '", a, "vocab_size' = ", v->as_int(), " but token_embd.weight has ", c.n_vocab, " rows");
  }
  c.tied_output = f.tensor("output.weight") == nullptr;
  c.set_arch_defaults();

  // RoPE scaling (llama.cpp: type defaults to "linear"; factor 0 or absent means none)
  const std::string scaling = f.get_string(a + "rope.scaling.type", "linear");
  if (scaling != "none" && scaling != "linear")
    fail(f.name(), ": metadata '", a, "rope.scaling.type' = '", scaling, "' is not supported (none, linear)");
  double factor = f.get_float(a + "rope.scaling.factor", 0.0);
  if (!f.find(a + "rope.scaling.factor")) factor = f.get_float(a + "rope.scale_linear", 0.0);
  if (!(factor >= 0.0) || !std::isfinite(factor))
    fail(f.name(), ": metadata '", a, "rope.scaling.factor' = ", factor, " must be a positive number");
  c.rope_freq_scale = scaling == "none" || factor == 0.0 ? 1.0f : float(1.0 / factor);
  if (c.arch == "llama") {
    if (const GgufTensorInfo* rf = f.tensor("rope_freqs.weight")) {
      if (rf->n_elements != c.n_rot / 2)
        fail(f.name(), ": tensor 'rope_freqs.weight' has ", rf->n_elements, " elements, expected n_rot / 2 = ", c.n_rot / 2);
      c.rope_freqs = true;
    }
  }
  if (c.arch == "gemma2") {
    c.attn_softcap = float(f.get_float(a + "attn_logit_softcapping", c.attn_softcap));
    c.final_softcap = float(f.get_float(a + "final_logit_softcapping", c.final_softcap));
    if (!(c.attn_softcap > 0.0f) || !(c.final_softcap > 0.0f))
      fail(f.name(), ": metadata '", a, "attn_logit_softcapping' / 'final_logit_softcapping' must be positive (", c.attn_softcap, ", ",
           c.final_softcap, ")");
  }
  if (c.arch == "gemma2" || c.arch == "phi3") {
    c.n_swa = f.get_int(a + "attention.sliding_window", c.n_swa);
    if (c.n_swa <= 0)
      fail(f.name(), ": metadata '", a, "attention.sliding_window' is ",
           f.find(a + "attention.sliding_window") ? "not positive" : "missing", " (", c.arch, " needs it)");
  }
  if (c.arch == "phi3") {
    if (c.q_dim() != c.n_embd)
      fail(f.name(), ": phi3 needs head_count * head dimension = embedding_length (", c.q_dim(), " vs ", c.n_embd, ")");
    if (c.tied_output) fail(f.name(), ": tensor 'output.weight' is missing (phi3 has a separate output projection)");
    if (f.tensor("rope_factors_long.weight") || f.tensor("rope_factors_short.weight"))
      fail(f.name(), ": phi3 LongRoPE factors (rope_factors_long/short.weight) are not supported");
  }
  return c;
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> list = [] {
    ModelConfig spark;
    spark.arch = "llama";
    spark.name = "codex-spark";
    spark.n_vocab = 32000;
    spark.n_ctx = 2048;
    spark.n_embd = 512;
    spark.n_layer = 96;
    spark.n_head = 16;
    spark.n_head_kv = 16;
    spark.n_ff = 2048;
    spark.head_dim = 32;
    spark.n_rot = 32;
    spark.rope_base = 10000.0f;
    spark.rms_eps = 1e-5f;
    // The shape of Llama 3.2 1B (its vocabulary aside): for CPU speed comparisons at a width
    // where products, not per-op overheads, dominate.
    ModelConfig l1b = spark;
    l1b.name = "llama-1b";
    l1b.n_embd = 2048;
    l1b.n_layer = 16;
    l1b.n_head = 32;
    l1b.n_head_kv = 8;
    l1b.head_dim = 64;
    l1b.n_rot = 64;
    l1b.n_ff = 8192;
    l1b.rope_base = 500000.0f;
    l1b.tied_output = true;
    ModelConfig mini = spark;
    mini.name = "codex-spark-mini";
    mini.n_layer = 8;
    // One small model per architecture family, each exercising that family's features.
    auto tiny = [&](const std::string& arch, int64_t embd, int64_t layers, int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t ff,
                    float base, float eps) {
      ModelConfig c = spark;
      c.arch = arch;
      c.n_ctx = 4096;
      c.n_embd = embd;
      c.n_layer = layers;
      c.n_head = heads;
      c.n_head_kv = kv_heads;
      c.head_dim = head_dim;
      c.n_rot = head_dim;
      c.n_ff = ff;
      c.rope_base = base;
      c.rms_eps = eps;
      c.tied_output = true;
      return c;
    };
    ModelConfig llama3 = tiny("llama", 128, 4, 8, 2, 16, 320, 500000.0f, 1e-5f);
    llama3.name = "llama3-tiny";
    llama3.rope_freqs = true;
    llama3.set_arch_defaults();
    ModelConfig qwen3 = tiny("qwen3", 128, 4, 8, 4, 32, 320, 1000000.0f, 1e-6f);
    qwen3.name = "qwen3-tiny";
    qwen3.set_arch_defaults();
    ModelConfig gemma2 = tiny("gemma2", 64, 26, 4, 2, 32, 192, 10000.0f, 1e-6f);
    gemma2.name = "gemma2-tiny";
    gemma2.set_arch_defaults();
    gemma2.attn_softcap = 1.0f;  // small caps so that they change results at this scale
    gemma2.final_softcap = 1.0f;
    gemma2.n_swa = 16;
    ModelConfig phi3 = tiny("phi3", 128, 4, 8, 4, 16, 320, 10000.0f, 1e-5f);
    // general.name must not contain "phi3"/"phi-3": llama.cpp then sets attributes of Phi-3's
    // special tokens (<|endoftext|>, ...), which the synthetic vocabulary does not have.
    phi3.name = "tiny-phi";
    phi3.n_rot = 12;  // partial rotary
    phi3.tied_output = false;
    phi3.set_arch_defaults();
    phi3.n_swa = 32;
    auto family = [](std::string name, std::string desc, ModelConfig c) {
      Preset p{std::move(name), std::move(desc), std::move(c)};
      p.init_std = 0.08f;
      p.norm_jitter = 0.1f;
      return p;
    };
    return std::vector<Preset>{
        {"codex-spark", "Codex-Spark shape: 96 layers, 16 heads, width 512, FFN 2048, context 2048, vocab 32000", spark},
        {"codex-spark-mini", "Codex-Spark with 8 layers (same widths), for tests and quick runs", mini},
        {"llama-1b", "Llama-3.2-1B shape: 16 layers, width 2048, GQA 32/8, FFN 8192, tied embeddings, vocab 32000 (1.0 B parameters)", l1b},
        family("llama3-tiny", "llama (Llama 3 style): 4 layers, width 128, GQA 8/2, rope base 5e5, rope_freqs.weight, tied embeddings",
               llama3),
        family("qwen3-tiny", "qwen3: 4 layers, width 128, GQA 8/4, head_dim 32, per-head q/k RMS norm, tied embeddings", qwen3),
        family("gemma2-tiny",
               "gemma2: 26 layers, width 64, GQA 4/2, head_dim 32, GeGLU, sandwich norms, soft-caps 1/1, window 16 on even layers", gemma2),
        family("phi3-tiny", "phi3: 4 layers, width 128, GQA 8/4, fused qkv and gate/up, partial rotary 12/16, window 32", phi3),
    };
  }();
  return list;
}

const Preset& find_preset(const std::string& name) {
  std::string known;
  for (const auto& p : presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  fail("unknown preset '", name, "' (known: ", known, ")");
}

const Preset& find_family_preset(const std::string& arch) {
  for (const char* a : {"llama3", "qwen3", "gemma2", "phi3"})
    if (arch == a) return find_preset(arch + "-tiny");
  fail("unknown --arch '", arch, "' (llama3, qwen3, gemma2, phi3)");
}

}  // namespace sb
