// `sparkbench model info|synth|quantize|prune`.
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/compress/apply.h"
#include "engine/backends/cpu_isa.h"
#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu/onednn_isa.h"
#endif
#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/gguf/gguf.h"
#include "engine/model/config.h"
#include "engine/model/synth.h"
#include "harness/commands.h"
#include "harness/model_loader.h"
#include "harness/variants.h"

namespace sb::cli {
namespace {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

nlohmann::json model_info_json(const GgufFile& f) {
  nlohmann::json j;
  j["file"] = f.name();
  j["gguf_version"] = f.version();
  j["file_bytes"] = f.file_size();
  j["alignment"] = f.alignment();
  j["metadata_count"] = f.metadata().size();
  j["architecture"] = f.get_string("general.architecture", "");
  j["name"] = f.get_string("general.name", "");
  int64_t params = 0, tensor_bytes = 0;
  std::map<std::string, int64_t> types;
  for (const auto& t : f.tensors()) {
    params += t.n_elements;
    tensor_bytes += int64_t(t.nbytes);
    types[ggml_type_name(uint32_t(t.type))] += 1;
  }
  j["tensor_count"] = f.tensors().size();
  j["tensor_types"] = types;
  j["parameters"] = params;
  j["tensor_bytes"] = tensor_bytes;
  if (f.tensor("token_embd.weight")) {
    ModelConfig c = ModelConfig::from_gguf(f);
    j["hparams"] = {{"n_vocab", c.n_vocab},   {"n_ctx", c.n_ctx},         {"n_embd", c.n_embd},   {"n_layer", c.n_layer},
                    {"n_head", c.n_head},     {"n_head_kv", c.n_head_kv}, {"n_ff", c.n_ff},       {"head_dim", c.head_dim},
                    {"n_rot", c.n_rot},       {"rope_base", c.rope_base}, {"rms_eps", c.rms_eps}, {"tied_output", c.tied_output},
                    {"qkv_bias", c.qkv_bias}, {"features", c.features()}};
  }
  nlohmann::json tok;
  tok["model"] = f.get_string("tokenizer.ggml.model", "");
  tok["pre"] = f.get_string("tokenizer.ggml.pre", "");
  if (const GgufValue* v = f.find("tokenizer.ggml.tokens")) tok["size"] = v->as_array("tokenizer.ggml.tokens").size();
  if (const GgufValue* v = f.find("tokenizer.ggml.merges")) tok["merges"] = v->as_array("tokenizer.ggml.merges").size();
  for (const char* k : {"bos", "eos", "unknown", "padding"}) {
    std::string key = std::string("tokenizer.ggml.") + k + "_token_id";
    if (f.find(key)) tok[std::string(k) + "_id"] = f.get_int(key, -1);
  }
  if (f.find("tokenizer.chat_template")) tok["chat_template_bytes"] = f.get_string("tokenizer.chat_template", "").size();
  j["tokenizer"] = tok;
  // what the cpu backend would run here (SPARKBENCH_CPU_ISA applied)
  j["cpu_isa"] = cpu::isa_name(cpu::active_isa());
  j["cpu_features"] = cpu::cpu_features_string();
#if SPARKBENCH_WITH_DNNL
  cpu::cap_onednn_isa();
  j["onednn_isa"] = cpu::onednn_isa_name();
#endif
  return j;
}

void print_model_info(const nlohmann::json& j) {
  std::printf("file          %s (GGUF v%d, %s)\n", j["file"].get<std::string>().c_str(), j["gguf_version"].get<int>(),
              human_bytes(j["file_bytes"].get<double>()).c_str());
  std::printf("architecture  %s%s%s\n", j["architecture"].get<std::string>().c_str(),
              j["name"].get<std::string>().empty() ? "" : "  name: ", j["name"].get<std::string>().c_str());
  if (j.contains("hparams")) {
    const auto& h = j["hparams"];
    std::printf("shape         %lld layers, width %lld, %lld heads (%lld kv), head dim %lld, ffn %lld\n", h["n_layer"].get<long long>(),
                h["n_embd"].get<long long>(), h["n_head"].get<long long>(), h["n_head_kv"].get<long long>(), h["head_dim"].get<long long>(),
                h["n_ff"].get<long long>());
    std::printf("context       %lld   vocab %lld   rope base %g (%lld dims)   rms eps %g%s\n", h["n_ctx"].get<long long>(),
                h["n_vocab"].get<long long>(), h["rope_base"].get<double>(), h["n_rot"].get<long long>(), h["rms_eps"].get<double>(),
                h["tied_output"].get<bool>() ? "   tied output" : "");
    std::string features;
    for (const auto& x : h["features"]) features += (features.empty() ? "" : ", ") + x.get<std::string>();
    if (!features.empty()) std::printf("features      %s\n", features.c_str());
  }
  std::string types;
  for (auto& [k, v] : j["tensor_types"].items()) types += (types.empty() ? "" : ", ") + k + " x" + std::to_string(v.get<int>());
  std::printf("tensors       %zu (%s)\n", j["tensor_count"].get<size_t>(), types.c_str());
  std::printf("parameters    %.3f M   tensor bytes %s\n", j["parameters"].get<double>() / 1e6,
              human_bytes(j["tensor_bytes"].get<double>()).c_str());
  const auto& t = j["tokenizer"];
  std::printf("tokenizer     %s%s%s, %lld tokens", t["model"].get<std::string>().c_str(),
              t["pre"].get<std::string>().empty() ? "" : " / pre ", t["pre"].get<std::string>().c_str(), t.value("size", 0LL));
  if (t.contains("merges")) std::printf(", %lld merges", t["merges"].get<long long>());
  if (t.contains("bos_id")) std::printf(", bos %lld", t["bos_id"].get<long long>());
  if (t.contains("eos_id")) std::printf(", eos %lld", t["eos_id"].get<long long>());
  if (t.contains("chat_template_bytes")) std::printf(", chat template (%lld bytes)", t["chat_template_bytes"].get<long long>());
  std::printf("\n");
  std::printf("cpu isa       %s%s%s (cpu: %s)\n", j["cpu_isa"].get<std::string>().c_str(), j.contains("onednn_isa") ? ", oneDNN " : "",
              j.value("onednn_isa", std::string()).c_str(), j["cpu_features"].get<std::string>().c_str());
}

}  // namespace

void add_model_command(CLI::App& app) {
  auto* model = app.add_subcommand("model", "Model files: info, synth (presets), quantize, prune");
  model->require_subcommand(1);

  auto* info = model->add_subcommand("info", "Show a GGUF file's architecture, shape, tensors and tokenizer");
  static std::string info_path;
  static bool info_json = false;
  info->add_option("file", info_path, "GGUF model file")->required();
  info->add_flag("--json", info_json, "Print one JSON object");
  info->callback([] {
    auto f = GgufFile::open(info_path);
    nlohmann::json j = model_info_json(*f);
    if (info_json)
      std::printf("%s\n", j.dump(1).c_str());
    else
      print_model_info(j);
  });

  auto* path = model->add_subcommand("path", "Print the cached file of a preset model, synthesizing it on first use");
  static std::string path_preset;
  static uint64_t path_seed = 0;
  path->add_option("--preset", path_preset, "Preset name")->required();
  path->add_option("--seed", path_seed, "Seed of the synthetic weights")->capture_default_str();
  path->callback([] { std::printf("%s\n", cached_preset_model(path_preset, path_seed).c_str()); });

  auto* synth = model->add_subcommand("synth", "Write a synthetic model for a preset (deterministic weights, real tokenizer)");
  static SynthOptions synth_opt;
  static std::string synth_dtype = "f16", synth_out;
  std::string preset_help = "Preset:";
  for (const auto& p : presets()) preset_help += " " + p.name + " (" + p.description + ");";
  static std::string synth_arch;
  auto* preset_opt = synth->add_option("--preset", synth_opt.preset, preset_help)->default_val("codex-spark-mini");
  synth->add_option("--arch", synth_arch, "Architecture family instead of --preset: llama3, qwen3, gemma2, phi3 (the <arch>-tiny preset)")
      ->excludes(preset_opt);
  static const std::string kSynthTypes = "f32, f16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0, iq4_nl, q6_k, q5_k, q4_k, iq4_xs, q3_k, q2_k";
  synth->add_option("--dtype", synth_dtype, "Weight type of every matrix: " + kSynthTypes)->default_val("f16");
  synth->add_option("--seed", synth_opt.seed, "Seed for the weights")->default_val(0);
  synth->add_option("-o,--output", synth_out, "Output GGUF file")->required();
  static std::string synth_chat;
  synth->add_option("--chat-template", synth_chat, "Jinja2 chat template file to embed as tokenizer.chat_template");
  synth->callback([] {
    if (!synth_chat.empty()) synth_opt.chat_template = read_file(synth_chat);
    auto t = ggml_type_from_name(synth_dtype);
    if (!t) fail("unknown --dtype '", synth_dtype, "' (", kSynthTypes, ")");
    synth_opt.dtype = *t;
    if (!synth_arch.empty()) synth_opt.preset = find_family_preset(synth_arch).name;
    find_preset(synth_opt.preset);  // clear error before any work
    synthesize_model(synth_opt, synth_out);
    auto f = GgufFile::open(synth_out);
    std::printf("wrote %s: preset %s, %s, seed %llu, %s (synthetic weights)\n", synth_out.c_str(), synth_opt.preset.c_str(),
                synth_dtype.c_str(), (unsigned long long)synth_opt.seed, human_bytes(double(f->file_size())).c_str());
  });

  // quantize | prune: the same pipeline (engine/compress/apply.h), each insisting on its kind.
  struct WriteArgs {
    std::string in, out, variant, calibration, backend;
    int threads = 0;
    bool json = false;
  };
  static WriteArgs wa[2];
  for (int which = 0; which < 2; ++which) {
    const bool quant = which == 0;
    auto* c =
        model->add_subcommand(quant ? "quantize" : "prune",
                              quant ? "Write a copy of a model with its weights converted (f32, f16, bf16, q8_0 ... q2_k, iq4_nl, iq4_xs, "
                                      "llama.cpp mixes q4_k_m ...; may add pruning)"
                                    : "Write a copy of a model with weights pruned (prune:F, prune24, prune-heads:N, prune-layers:N)");
    WriteArgs& a = wa[which];
    a.backend = default_backend();
    c->add_option("-m,--model", a.in, "Input GGUF model")->required();
    c->add_option("-o,--output", a.out, "Output GGUF file")->required();
    c->add_option("--variant", a.variant, "Variant spec, e.g. q4_0, q4_k_m, prune:0.5, q8_0+prune-heads:2")->required();
    c->add_option("--calibration", a.calibration, "Calibration text for prune-layers (default: datasets/calibration/stories.txt)");
    c->add_option("--backend", a.backend, "Backend that runs the model for layer ranking")->capture_default_str();
    c->add_option("-t,--threads", a.threads, "CPU threads (0 = all cores)")->capture_default_str();
    c->add_flag("--json", a.json, "Print one JSON object");
    c->callback([quant, &a] {
      const compress::VariantSpec spec = compress::parse_variant(a.variant);
      if (quant && !spec.converts_weights() && spec.weights != compress::WeightKind::Int8)
        fail("model quantize: variant '", a.variant,
             "' names no weight type (f32, f16, bf16, q8_0 ... q2_k, a mix such as q4_k_m); use model prune for pruning alone");
      if (!quant && !spec.pruned())
        fail("model prune: variant '", a.variant, "' prunes nothing (prune:F, prune24, prune-heads:N, prune-layers:N)");
      auto base = GgufFile::open(a.in);
      if (!base->tensor("token_embd.weight")) fail(a.in, ": not a model this tool can run (no token_embd.weight)");
      std::unique_ptr<Backend> backend;
      std::unique_ptr<Tokenizer> tok;
      compress::Calibration calib;
      if (spec.needs_calibration()) {
        BackendOptions bo;
        bo.threads = a.threads;
        backend = create_backend(a.backend, bo);
        tok = Tokenizer::from_gguf(*base);
        calib.backend = backend.get();
        calib.tokenizer = tok.get();
        calib.text = read_calibration(calibration_path(a.calibration));
      }
      const auto rep = compress::write_variant(base, spec, spec.needs_calibration() ? &calib : nullptr, a.out, /*release_file_pages=*/true);
      auto f = GgufFile::open(a.out);
      const ModelConfig cfg = ModelConfig::from_gguf(*f);  // the output must read back as a model
      if (a.json) {
        nlohmann::json j = model_info_json(*f);
        j["variant"] = rep.name;
        j["source"] = a.in;
        j["source_bytes"] = base->file_size();
        j["notes"] = rep.notes;
        j["removed_layers"] = rep.removed_layers;
        j["kept_heads"] = rep.kept_heads;
        j["layer_similarity"] = rep.layer_similarity;
        if (rep.prunable > 0) j["zeroed_fraction"] = double(rep.zeroed) / double(rep.prunable);
        std::printf("%s\n", j.dump(1).c_str());
      } else {
        std::printf("wrote %s: variant %s, %s (from %s), %lld layers, %lld heads\n", a.out.c_str(), rep.name.c_str(),
                    human_bytes(double(f->file_size())).c_str(), human_bytes(double(base->file_size())).c_str(), (long long)cfg.n_layer,
                    (long long)cfg.n_head);
        for (const auto& n : rep.notes) std::printf("note: %s\n", n.c_str());
      }
    });
  }
}

}  // namespace sb::cli
