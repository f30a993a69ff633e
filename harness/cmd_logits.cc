// `sparkbench logits`: greedy run that dumps every row of logits (PLG1) for comparison with
// other engines: the prompt is evaluated as one batch, then one token per step.
#include <cstdio>

#include "engine/core/error.h"
#include "engine/generate/sampler.h"
#include "engine/model/plg.h"
#include "harness/commands.h"
#include "harness/model_loader.h"
#include "harness/variants.h"

namespace sb::cli {

void add_logits_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Greedy run that writes every row of logits (PLG1 format)");
  static ModelArgs margs;
  static std::string prompt, out;
  static int n = 64;
  static bool no_bos = false;
  add_model_args(cmd, margs);
  static VariantArgs vargs;
  add_variant_args(cmd, vargs);
  cmd->add_option("-p,--prompt", prompt, "Prompt text")->required();
  cmd->add_option("-n,--n-predict", n, "Greedy tokens after the prompt")->capture_default_str();
  cmd->add_option("-o,--output", out, "Output .plg file")->required();
  cmd->add_flag("--no-bos", no_bos, "Do not prepend BOS");
  cmd->callback([] {
    if (n < 1) fail("--n-predict must be at least 1");
    LoadedModel lm = load_model(margs);
    apply_variant_args(lm, vargs);
    Context ctx(*lm.model, lm.ctx_opts);
    const int64_t V = lm.model->config().n_vocab;
    PlgDump d;
    d.n_vocab = uint32_t(V);
    d.tokens = lm.tokenizer->encode(prompt, !no_bos && lm.tokenizer->add_bos_default());
    if (d.tokens.empty()) fail("the prompt has no tokens (empty prompt with --no-bos)");
    d.n_prompt = uint32_t(d.tokens.size());
    std::vector<float> logits;
    ctx.eval(d.tokens.data(), int64_t(d.tokens.size()), true, logits);
    d.logits = logits;
    int32_t next = argmax(logits.data() + (d.tokens.size() - 1) * size_t(V), V);
    for (int i = 1; i < n; ++i) {
      d.tokens.push_back(next);
      ctx.eval(&next, 1, false, logits);
      d.logits.insert(d.logits.end(), logits.begin(), logits.end());
      next = argmax(logits.data(), V);
    }
    d.tokens.push_back(next);
    write_plg(out, d);
    std::printf("wrote %s: %u rows x %u logits (%u prompt tokens, %d generated) [%s]\n", out.c_str(), d.n_rows(), d.n_vocab, d.n_prompt, n,
                lm.backend->name().c_str());
  });
}

}  // namespace sb::cli
