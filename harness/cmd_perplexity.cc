// `sparkbench perplexity`.
#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/generate/perplexity.h"
#include "harness/commands.h"
#include "harness/model_loader.h"
#include "harness/variants.h"

namespace sb::cli {

void add_perplexity_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a text file (sliding windows, or llama-perplexity's protocol)");
  static ModelArgs margs;
  static std::string file, protocol = "sliding";
  static int64_t window = 0;
  static bool json = false;
  add_model_args(cmd, margs);
  static VariantArgs vargs;
  add_variant_args(cmd, vargs);
  cmd->add_option("-f,--file", file, "Text file")->required();
  cmd->add_option("--protocol", protocol,
                  "sliding: every token scored once, windows of -c tokens advancing by half a window; "
                  "llamacpp: llama-perplexity's chunks (second half of each chunk scored)")
      ->check(CLI::IsMember({"sliding", "llamacpp"}))
      ->capture_default_str();
  cmd->add_flag("--json", json, "Print one JSON object");
  cmd->callback([] {
    const std::string text = read_file(file);
    LoadedModel lm = load_model(margs);
    apply_variant_args(lm, vargs);
    window = margs.n_ctx > 0 ? margs.n_ctx : std::min<int64_t>(lm.model->config().n_ctx, 512);
    ContextOptions co = lm.ctx_opts;
    co.n_ctx = window;
    co.n_batch = std::max<int64_t>(co.n_batch, window);
    Context ctx(*lm.model, co);
    const bool tty = ::isatty(2);
    auto r = perplexity(ctx, *lm.tokenizer, text, protocol == "llamacpp" ? PplProtocol::LlamaCpp : PplProtocol::Sliding, window,
                        [&](int64_t i, int64_t n) {
                          if (tty) std::fprintf(stderr, "\rperplexity: chunk %lld/%lld", (long long)i, (long long)n);
                        });
    if (tty) std::fprintf(stderr, "\n");
    if (json) {
      nlohmann::json j{{"file", file},
                       {"model", lm.path},
                       {"backend", lm.backend->name()},
                       {"protocol", protocol},
                       {"n_ctx", window},
                       {"ppl", r.ppl},
                       {"ppl_stderr", r.ppl_stderr},
                       {"mean_nll", r.mean_nll},
                       {"nll_stderr", r.nll_stderr},
                       {"n_tokens", r.n_tokens},
                       {"n_scored", r.n_scored},
                       {"n_chunks", r.n_chunks},
                       {"running_ppl", r.running_ppl}};
      if (protocol == "sliding") j["bits_per_byte"] = r.bits_per_byte;
      std::printf("%s\n", j.dump(1).c_str());
    } else {
      std::printf("%s: %lld tokens, %lld chunks of %lld, %lld scored\n", file.c_str(), (long long)r.n_tokens, (long long)r.n_chunks,
                  (long long)window, (long long)r.n_scored);
      std::printf("PPL = %.4f +/- %.5f", r.ppl, r.ppl_stderr);
      if (protocol == "sliding") std::printf("   bits/byte = %.4f", r.bits_per_byte);
      std::printf("   [%s, protocol %s]\n", lm.backend->name().c_str(), protocol.c_str());
    }
  });
}

}  // namespace sb::cli
