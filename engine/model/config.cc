#include "engine/model/config.h"

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"

namespace sb {

int64_t ModelConfig::n_params() const {
  int64_t per_layer = 2 * n_embd                                   // attn + ffn norms
                      + n_embd * q_dim() + 2 * n_embd * kv_dim()   // wq, wk, wv
                      + q_dim() * n_embd                           // wo
                      + 3 * n_embd * n_ff;                         // gate, up, down
  if (qkv_bias) per_layer += q_dim() + 2 * kv_dim();
  return n_vocab * n_embd * (tied_output ? 1 : 2) + n_embd + n_layer * per_layer;
}

ModelConfig ModelConfig::from_gguf(const GgufFile& f) {
  ModelConfig c;
  c.arch = f.get_string("general.architecture", "");
  if (c.arch.empty()) fail(f.name(), ": metadata 'general.architecture' is missing");
  if (c.arch != "llama" && c.arch != "qwen2")
    fail(f.name(), ": architecture '", c.arch, "' is not supported (llama, qwen2)");
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
  c.rope_style = c.arch == "qwen2" ? RopeStyle::NeoX : RopeStyle::Interleaved;
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
  if (c.n_head % c.n_head_kv != 0)
    fail(f.name(), ": head_count ", c.n_head, " is not a multiple of head_count_kv ", c.n_head_kv);
  c.head_dim = f.get_int(a + "attention.key_length", c.n_embd / c.n_head);
  if (c.head_dim <= 0 || c.head_dim % 2 != 0 || c.head_dim > 1024)
    fail(f.name(), ": head dimension ", c.head_dim, " must be even and positive");
  c.n_rot = f.get_int(a + "rope.dimension_count", c.head_dim);
  if (c.n_rot <= 0 || c.n_rot > c.head_dim || c.n_rot % 2 != 0)
    fail(f.name(), ": metadata '", a, "rope.dimension_count' = ", c.n_rot, " must be even and <= head dimension ", c.head_dim);

  const GgufTensorInfo* emb = f.tensor("token_embd.weight");
  if (!emb) fail(f.name(), ": tensor 'token_embd.weight' is missing");
  if (emb->ne.size() != 2 || emb->ne[0] != c.n_embd)
    fail(f.name(), ": tensor 'token_embd.weight' must be [", c.n_embd, ", n_vocab]");
  c.n_vocab = emb->ne[1];
  if (const GgufValue* v = f.find(a + "vocab_size")) {
    if (v->as_int() != c.n_vocab)
      fail(f.name(), ": metadata '", a, "vocab_size' = ", v->as_int(), " but token_embd.weight has ", c.n_vocab, " rows");
  }
  c.tied_output = f.tensor("output.weight") == nullptr;
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
    ModelConfig mini = spark;
    mini.name = "codex-spark-mini";
    mini.n_layer = 8;
    return std::vector<Preset>{
        {"codex-spark", "Codex-Spark shape: 96 layers, 16 heads, width 512, FFN 2048, context 2048, vocab 32000", spark},
        {"codex-spark-mini", "Codex-Spark with 8 layers (same widths), for tests and quick runs", mini},
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

}  // namespace sb
