#include "engine/compress/apply.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "engine/compress/llama_mix.h"
#include "engine/compress/prune.h"
#include "engine/compress/quantize.h"
#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/model/config.h"

namespace sb::compress {
namespace {

const char* const kLayerMatrices[] = {"attn_q.weight",   "attn_k.weight", "attn_v.weight",  "attn_output.weight",
                                      "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"};

bool is_layer_matrix(const std::string& suffix) {
  for (const char* m : kLayerMatrices)
    if (suffix == m) return true;
  return false;
}

// Splits "blk.<i>.<rest>"; returns -1 for other names.
int64_t block_index(const std::string& name, std::string* rest) {
  if (name.rfind("blk.", 0) != 0) return -1;
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos) return -1;
  try {
    size_t used = 0;
    const int64_t i = std::stoll(name.substr(4, dot - 4), &used);
    if (used != dot - 4) return -1;
    *rest = name.substr(dot + 1);
    return i;
  } catch (const std::exception&) {
    return -1;
  }
}

struct Built {
  GgufWriter writer;
  VariantReport report;
  bool changed = false;
  bool release_file_pages = false;
};

// 1. which layers stay (prune-layers ranks them on the calibration text); new_index[l] is
// layer l's index in the variant, -1 when it is removed.
std::vector<int64_t> plan_layers(Built& b, const std::shared_ptr<const GgufFile>& base_ptr, const VariantSpec& spec,
                                 const Calibration* calib, const ModelConfig& c, bool release_file_pages) {
  const GgufFile& base = *base_ptr;
  std::vector<int64_t> new_index(size_t(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) new_index[size_t(l)] = l;
  if (spec.prune_layers > 0) {
    if (!calib || !calib->backend || !calib->tokenizer || calib->text.empty())
      fail("prune-layers:", spec.prune_layers, " needs a calibration text to rank the layers");
    if (spec.prune_layers >= c.n_layer)
      fail("prune-layers:", spec.prune_layers, ": the model has ", c.n_layer, " layers; at least one must remain");
    b.report.layer_similarity =
        layer_similarity(base_ptr, *calib->backend, *calib->tokenizer, calib->text, calib->n_ctx, calib->max_tokens);
    if (release_file_pages)  // the ranking read every weight; what the variant keeps is read again below
      for (const auto& t : base.tensors()) sb::release_file_pages(base.tensor_data(t), size_t(t.nbytes));
    b.report.removed_layers = layers_to_remove(b.report.layer_similarity, spec.prune_layers);
    std::set<int64_t> removed(b.report.removed_layers.begin(), b.report.removed_layers.end());
    int64_t next = 0;
    for (int64_t l = 0; l < c.n_layer; ++l) new_index[size_t(l)] = removed.count(l) ? -1 : next++;
    std::string list;
    for (int64_t l : b.report.removed_layers) list += (list.empty() ? "" : ", ") + std::to_string(l);
    b.report.notes.push_back(cat("removed layer", b.report.removed_layers.size() > 1 ? "s " : " ", list, " of ", c.n_layer,
                                 " (highest input/output cosine similarity on the calibration text)"));
  }
  return new_index;
}

struct HeadPlan {
  std::vector<std::vector<int64_t>> keep_heads;  // per original layer
  int64_t new_head = 0, new_head_kv = 0;
};

// 2. which attention heads stay in every layer (prune-heads, by weight-norm importance).
HeadPlan plan_heads(Built& b, const GgufFile& base, const VariantSpec& spec, const ModelConfig& c, const std::vector<int64_t>& new_index) {
  std::vector<std::vector<int64_t>> keep_heads;
  int64_t new_head = c.n_head, new_head_kv = c.n_head_kv;
  if (spec.prune_heads > 0) {
    keep_heads = heads_to_keep(head_importance(base, c), c, spec.prune_heads);
    new_head = int64_t(keep_heads[0].size());
    new_head_kv = new_head / (c.n_head / c.n_head_kv);
    for (int64_t l = 0; l < c.n_layer; ++l)
      if (new_index[size_t(l)] >= 0) b.report.kept_heads.push_back(keep_heads[size_t(l)]);
    b.report.notes.push_back(cat("removed ", spec.prune_heads, " of ", c.n_head, " attention heads in every layer (", new_head, " heads, ",
                                 new_head_kv, " KV heads remain; ranked by weight-norm importance)"));
  }
  return {std::move(keep_heads), new_head, new_head_kv};
}

// 3. the variant's metadata (the base's, with the new shape, variant name and file type).
void write_metadata(Built& b, const GgufFile& base, const VariantSpec& spec, const ModelConfig& c, int64_t new_head, int64_t new_head_kv) {
  const std::string a = c.arch + ".";
  b.writer.copy_metadata(base);
  b.writer.set("sparkbench.variant", GgufValue::string(spec.name()));
  if (spec.prune_layers > 0) b.writer.set(a + "block_count", GgufValue::u32(uint32_t(c.n_layer - spec.prune_layers)));
  if (spec.prune_heads > 0) {
    b.writer.set(a + "attention.head_count", GgufValue::u32(uint32_t(new_head)));
    b.writer.set(a + "attention.head_count_kv", GgufValue::u32(uint32_t(new_head_kv)));
    b.writer.set(a + "attention.key_length", GgufValue::u32(uint32_t(c.head_dim)));
    b.writer.set(a + "attention.value_length", GgufValue::u32(uint32_t(c.head_dim)));
  }
  if (auto ft = spec.file_type()) b.writer.set("general.file_type", GgufValue::u32(uint32_t(*ft)));
}

// Plans the variant: metadata and every tensor's shape and type now, the converted bytes lazily
// (when the writer serializes), so peak memory is the output plus one tensor.
Built build(std::shared_ptr<const GgufFile> base_ptr, const VariantSpec& spec, const Calibration* calib, bool release_file_pages) {
  const GgufFile& base = *base_ptr;
  Built b;
  b.release_file_pages = release_file_pages;
  b.report.name = spec.name();
  const ModelConfig c = ModelConfig::from_gguf(base);
  const std::optional<GgmlType> target = spec.gguf_type();
  if (spec.prune_heads > 0 && c.fused_qkv)
    fail(base.name(), ": prune-heads is not supported for ", c.arch, " (q, k and v are fused in attn_qkv.weight)");
  if (spec.prune_layers > 0 && c.swa_even_layers)
    fail(base.name(), ": prune-layers is not supported for ", c.arch, " (its sliding-window layers alternate by index)");

  // 1. layers
  const std::vector<int64_t> new_index = plan_layers(b, base_ptr, spec, calib, c, release_file_pages);
  // 2. heads
  HeadPlan hp = plan_heads(b, base, spec, c, new_index);
  std::vector<std::vector<int64_t>>& keep_heads = hp.keep_heads;  // per original layer
  const int64_t new_head = hp.new_head, new_head_kv = hp.new_head_kv;
  if (spec.unstructured()) {
    b.report.notes.push_back(cat(spec.prune_24 ? "2:4 sparsity" : cat("magnitude pruning of ", spec.prune_fraction * 100, "%"),
                                 ": zeroed weights are stored and multiplied densely (no sparse kernel in any backend), "
                                 "so this changes accuracy only, not speed or model size"));
  }

  // 3. metadata
  write_metadata(b, base, spec, c, new_head, new_head_kv);
  const std::optional<int> mix = spec.llama_mix();
  const MixModel mix_model{c.arch, c.n_layer - spec.prune_layers, new_head, new_head_kv, base.tensor("output.weight") != nullptr};
  b.changed = spec.structured() || spec.unstructured();

  // 4. tensors
  const int64_t D = c.head_dim, g = c.n_head / c.n_head_kv;
  std::map<std::string, int> fallback_count;
  auto heads = std::make_shared<const std::vector<std::vector<int64_t>>>(std::move(keep_heads));
  for (const auto& t : base.tensors()) {
    std::string rest, name = t.name;
    const int64_t layer = block_index(t.name, &rest);
    if (layer >= 0 && layer < c.n_layer) {
      if (new_index[size_t(layer)] < 0) continue;
      name = "blk." + std::to_string(new_index[size_t(layer)]) + "." + rest;
    }
    const bool matrix = t.ne.size() == 2;
    const bool layer_matrix = layer >= 0 && matrix && is_layer_matrix(rest);
    const bool head_cut = spec.prune_heads > 0 && layer >= 0 && layer < c.n_layer &&
                          (rest == "attn_q.weight" || rest == "attn_k.weight" || rest == "attn_v.weight" || rest == "attn_output.weight" ||
                           rest == "attn_q.bias" || rest == "attn_k.bias" || rest == "attn_v.bias");
    const bool prune = spec.unstructured() && layer_matrix;
    // Output shape: heads (q rows, output columns, q bias) or KV heads (k, v rows and biases).
    std::vector<int64_t> ne = t.ne;
    std::vector<int64_t> keep_units;
    const bool kv = rest == "attn_k.weight" || rest == "attn_v.weight" || rest == "attn_k.bias" || rest == "attn_v.bias";
    if (head_cut) {
      for (int64_t h : (*heads)[size_t(layer)])
        if (!kv)
          keep_units.push_back(h);
        else if (h % g == 0)
          keep_units.push_back(h / g);
      if (rest == "attn_output.weight" || !matrix)
        ne[0] = int64_t(keep_units.size()) * D;
      else
        ne[1] = int64_t(keep_units.size()) * D;
    }
    const int64_t out_cols = ne[0], out_rows = (matrix ? ne[1] : 1);
    GgmlType out_type = t.type;
    if (matrix && (target || mix)) {
      const GgmlType want = mix ? llama_mix_choice(*mix, mix_model, name, out_cols) : *target;
      out_type = block_fallback(want, out_cols);
      if (out_type != want) {
        b.report.fallback.push_back(name);
        fallback_count[cat(rest.empty() ? name : rest, " ", ggml_type_name(uint32_t(want)), "->", ggml_type_name(uint32_t(out_type)))]++;
      }
    }
    if (!head_cut && !prune && out_type == t.type) {
      if (!b.release_file_pages) {
        b.writer.add_tensor_ref(name, t.type, t.ne, base.tensor_data(t), size_t(t.nbytes));
      } else {  // copied when written, then its file pages dropped
        b.writer.add_tensor_lazy(name, t.type, t.ne, size_t(t.nbytes), [base_ptr, t] {
          const uint8_t* p = base_ptr->tensor_data(t);
          std::vector<uint8_t> bytes(p, p + t.nbytes);
          sb::release_file_pages(p, size_t(t.nbytes));
          return bytes;
        });
      }
      continue;
    }
    b.changed = true;
    if (prune) {
      b.report.prunable += out_rows * out_cols;
      if (spec.prune_24)
        b.report.zeroed += out_rows * ((out_cols / 4) * 2 + (out_cols % 4) / 2);
      else
        b.report.zeroed += int64_t(std::floor(spec.prune_fraction * double(out_rows * out_cols)));
    }
    const size_t nbytes = size_t(ggml_row_bytes(out_type, out_cols) * out_rows);
    // The bytes are made when the writer reaches this tensor, one tensor at a time.
    b.writer.add_tensor_lazy(
        name, out_type, ne, nbytes,
        [base_ptr, t, rest, matrix, head_cut, keep_units, D, prune, spec, out_type, out_rows, out_cols, release = b.release_file_pages] {
          std::vector<float> w = base_ptr->tensor_f32(t);
          if (release) sb::release_file_pages(base_ptr->tensor_data(t), size_t(t.nbytes));
          if (head_cut) {
            const int64_t cols = t.ne[0], rows = t.rows();
            std::vector<float> cut;
            cut.reserve(size_t(out_rows * out_cols));
            if (rest == "attn_output.weight") {  // columns = q_dim inputs
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t u : keep_units) cut.insert(cut.end(), w.begin() + r * cols + u * D, w.begin() + r * cols + (u + 1) * D);
            } else if (matrix) {  // rows = q_dim / kv_dim outputs
              for (int64_t u : keep_units) cut.insert(cut.end(), w.begin() + u * D * cols, w.begin() + (u + 1) * D * cols);
            } else {  // bias vector
              for (int64_t u : keep_units) cut.insert(cut.end(), w.begin() + u * D, w.begin() + (u + 1) * D);
            }
            w = std::move(cut);
          }
          if (prune) {
            if (spec.prune_24)
              prune_2_4(w.data(), out_rows, out_cols);
            else
              prune_magnitude(w.data(), int64_t(w.size()), spec.prune_fraction);
          }
          return from_f32(out_type, w.data(), out_rows, out_cols);
        });
  }
  if (!b.report.fallback.empty()) {
    std::string what;
    for (const auto& [k, n] : fallback_count) what += (what.empty() ? "" : ", ") + k + (n > 1 ? cat(" x", n) : "");
    b.report.notes.push_back(cat(b.report.fallback.size(),
                                 " tensor(s) stored in a fallback type, their rows not being whole blocks "
                                 "of the chosen one, as llama-quantize does (",
                                 what, ")"));
  }
  return b;
}

// A GgufFile parsed from a buffer it keeps alive.
std::shared_ptr<const GgufFile> in_memory(const GgufWriter& w, const std::string& name) {
  struct Holder {
    std::vector<uint8_t> bytes;
    std::shared_ptr<const GgufFile> file;
  };
  auto h = std::make_shared<Holder>();
  h->bytes = w.serialize();
  h->file = GgufFile::parse(h->bytes.data(), h->bytes.size(), name);
  return std::shared_ptr<const GgufFile>(h, h->file.get());
}

}  // namespace

VariantModel apply_variant(std::shared_ptr<const GgufFile> base, const VariantSpec& spec, const Calibration* calib,
                           bool release_file_pages) {
  if (spec.distills())
    fail("variant '", spec.name(), "': the distill step trains a model; only run, bench and distill apply it (harness/variants.h)");
  VariantModel vm;
  vm.spec = spec;
  vm.file = base;
  vm.report.name = spec.name();
  if (spec.is_base()) {
    vm.report.identical_to_base = true;
    return vm;
  }
  bool need_build = spec.pruned() || spec.llama_mix();
  if (auto t = spec.gguf_type())
    for (const auto& ti : base->tensors()) need_build |= ti.ne.size() == 2 && ti.type != *t;
  bool from_file = true;
  if (need_build) {
    Built b = build(base, spec, calib, release_file_pages);
    vm.report = std::move(b.report);
    if (b.changed) {
      vm.file = in_memory(b.writer, base->name() + " [" + spec.name() + "]");
      from_file = false;
    }
  }
  if (spec.weights == WeightKind::Int8) {
    vm.transform = int8_transform(release_file_pages && from_file);
    vm.report.notes.push_back(
        "int8: layer and output matrices quantized per output channel, activations per token at run time; "
        "the embedding table stays as stored");
  } else if (vm.file == base) {
    vm.report.identical_to_base = true;
    vm.report.notes.push_back("every weight matrix is already " + spec.name() + ": identical to the stored model");
  }
  return vm;
}

VariantReport write_variant(std::shared_ptr<const GgufFile> base, const VariantSpec& spec, const Calibration* calib,
                            const std::string& path, bool release_file_pages) {
  if (spec.weights == WeightKind::Int8)
    fail("variant '", spec.name(),
         "': int8 is an in-memory format (no GGUF type); apply it at load time with --variant, "
         "or write q8_0 instead");
  if (spec.distills())
    fail("variant '", spec.name(), "': the distill step trains a model; use `sparkbench distill --student-variant` to write one");
  Built b = build(base, spec, calib, release_file_pages);
  b.writer.write(path);
  return b.report;
}

std::unique_ptr<Model> load_variant(const VariantModel& vm, Backend& backend) { return Model::load(vm.file, backend, vm.transform); }

}  // namespace sb::compress
