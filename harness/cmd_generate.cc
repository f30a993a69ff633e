// `sparkbench generate`: text generation with streaming output and timings.
#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/generate/generate.h"
#include "evals/task.h"
#include "harness/chat_args.h"
#include "harness/commands.h"
#include "harness/model_loader.h"
#include "harness/variants.h"

namespace sb::cli {

void add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate text (greedy or sampled, seeded) with timings");
  static ModelArgs margs;
  static std::string prompt, prompt_file;
  static GenerateOptions g;
  static bool json = false, no_bos = false;
  static ChatArgs chat;
  add_model_args(cmd, margs);
  static VariantArgs vargs;
  add_variant_args(cmd, vargs);
  cmd->add_option("-p,--prompt", prompt, "Prompt text");
  cmd->add_option("-f,--prompt-file", prompt_file, "Read the prompt from a file (byte for byte)");
  g.max_tokens = 64;
  cmd->add_option("-n,--n-predict", g.max_tokens, "Tokens to generate")->capture_default_str();
  cmd->add_option("--temp", g.sampling.temperature, "Temperature (0 = greedy)")->capture_default_str();
  cmd->add_option("--top-k", g.sampling.top_k, "Top-k (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", g.sampling.top_p, "Top-p / nucleus (1 = off)")->capture_default_str();
  cmd->add_option("--min-p", g.sampling.min_p, "Min-p relative to the top token (0 = off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", g.sampling.repeat_penalty, "Repetition penalty (1 = off)")->capture_default_str();
  cmd->add_option("--repeat-last-n", g.sampling.repeat_last_n, "Tokens the penalty looks back over")->capture_default_str();
  cmd->add_option("-s,--seed", g.sampling.seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--stop", g.stop, "Stop string (repeatable)");
  cmd->add_flag("--ignore-eos", g.ignore_eog, "Keep generating past end-of-generation tokens");
  cmd->add_flag("--no-bos", no_bos, "Do not prepend BOS to the prompt");
  cmd->add_flag("--json", json, "Print one JSON object instead of streaming text");
  add_chat_args(cmd, chat, /*scoring_flag=*/false);
  cmd->callback([] {
    if (!prompt_file.empty()) prompt = read_file(prompt_file);
    if (g.max_tokens < 0) fail("--n-predict must be >= 0");
    if (chat.chat && no_bos) fail("--no-bos does not combine with --chat (the template and the vocab decide the BOS)");
    LoadedModel lm = load_model(margs);
    apply_variant_args(lm, vargs);
    // --chat: the prompt is a user message (after --system), rendered by the chat template.
    std::unique_ptr<ChatTemplate> tmpl = open_chat_template(chat, lm.model->file(), *lm.tokenizer);
    if (tmpl) prompt = ChatMode{tmpl.get(), chat.system}.prompt(prompt);
    Context ctx(*lm.model, lm.ctx_opts);
    std::vector<int32_t> ids =
        tmpl ? lm.tokenizer->encode_chat(prompt) : lm.tokenizer->encode(prompt, !no_bos && lm.tokenizer->add_bos_default());
    if (lm.synthetic && !json) std::fprintf(stderr, "note: %s has synthetic (random) weights; its text is meaningless\n", lm.path.c_str());
    GenerateResult r;
    if (json) {
      r = generate(ctx, *lm.tokenizer, ids, g);
    } else {
      std::fputs(prompt.c_str(), stdout);
      std::fflush(stdout);
      r = generate(ctx, *lm.tokenizer, ids, g, [](const TokenEvent& e) {
        std::fwrite(e.text.data(), 1, e.text.size(), stdout);
        std::fflush(stdout);
        return true;
      });
      std::printf("\n");
    }
    const auto& t = r.timings;
    const double decode_ts = t.token_ms.size() > 1 ? 1000.0 / t.tpot_ms() : 0.0;
    const double prompt_ts = t.prompt_ms > 0 ? double(ids.size()) * 1000.0 / t.prompt_ms : 0.0;
    if (json) {
      nlohmann::json j;
      j["model"] = lm.path;
      j["synthetic_weights"] = lm.synthetic;
      j["backend"] = lm.backend->name();
      j["backend_info"] = lm.backend->describe();
      j["prompt"] = prompt;
      if (tmpl) j["chat_template"] = {{"source", tmpl->name()}, {"engine", tmpl->engine_version()}, {"system", chat.system}};
      j["prompt_ids"] = r.prompt_ids;
      j["generated_ids"] = r.generated_ids;
      j["text"] = r.text;
      j["stop_reason"] = r.stop_reason;
      j["timings"] = {{"load_ms", lm.load_ms},
                      {"prompt_ms", t.prompt_ms},
                      {"ttft_ms", t.ttft_ms},
                      {"tpot_ms", t.tpot_ms()},
                      {"total_ms", t.total_ms},
                      {"prompt_tokens_per_s", prompt_ts},
                      {"decode_tokens_per_s", decode_ts},
                      {"token_ms", t.token_ms}};
      std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::fprintf(stderr, "[%s] prompt %zu tok %.1f ms (%.1f t/s) | ttft %.1f ms | %zu tok, tpot %.2f ms (%.1f t/s) | stop: %s\n",
                   lm.backend->name().c_str(), ids.size(), t.prompt_ms, prompt_ts, t.ttft_ms, r.generated_ids.size(), t.tpot_ms(),
                   decode_ts, r.stop_reason.c_str());
    }
  });
}

}  // namespace sb::cli
