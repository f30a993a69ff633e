// `sparkbench serve`: an OpenAI-compatible HTTP server with continuous batching
// (server/http_server.h, server/scheduler.h).
#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "common/stop_signals.h"
#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "harness/chat_args.h"
#include "harness/commands.h"
#include "harness/model_loader.h"
#include "server/http_server.h"

namespace sb::cli {

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve",
                                 "OpenAI-compatible server (/v1/completions, /v1/chat/completions, /v1/models, /health, /metrics) with "
                                 "continuous batching: up to --parallel sequences decode in one forward pass per step, prompts join in "
                                 "chunks of --batch-size rows. Prints 'listening on http://HOST:PORT' once bound; SIGTERM/SIGINT drain "
                                 "in-flight requests and exit 0");
  static ModelArgs margs;
  static serve::ServerOptions so;
  static int parallel = 4;
  static std::string key_file, chat_template_file;
  margs.n_batch = 128;
  add_model_args(cmd, margs);
  cmd->get_option("--batch-size")->description("Prompt rows per step (the decoding sequences add one row each)");
  cmd->add_option("--host", so.host, "Address to bind (a non-loopback address needs --api-key-file)")->capture_default_str();
  cmd->add_option("--port", so.port, "Port (0 = an ephemeral port, printed on the listening line)")->capture_default_str();
  cmd->add_option("--parallel", parallel, "Sequences decoded together (slots; each has its own KV cache of --ctx-size)")
      ->capture_default_str();
  cmd->add_option("--api-key-file", key_file, "File holding the API key clients must send as 'Authorization: Bearer KEY'");
  cmd->add_option("--model-name", so.model_name, "Model id in /v1/models and responses (default: the file name)");
  cmd->add_option("--chat-template", chat_template_file, "Jinja2 chat template for /v1/chat/completions (default: the model's)");
  cmd->add_option("--http-threads", so.http_threads, "HTTP handler threads (each open request holds one)")->capture_default_str();
  cmd->add_option("--max-body", so.max_body, "Largest request body in bytes (larger: 413)")->capture_default_str();
  cmd->callback([] {
    if (parallel < 1 || parallel > 1024) fail("--parallel must be between 1 and 1024");
    if (so.port < 0 || so.port > 65535) fail("--port must be between 0 and 65535");
    if (!key_file.empty()) {
      std::string k = read_file(key_file);
      while (!k.empty() && (k.back() == '\n' || k.back() == '\r' || k.back() == ' ' || k.back() == '\t')) k.pop_back();
      if (k.empty()) fail(key_file, ": the API key file is empty");
      so.api_key = k;
    }
    if (!serve::is_loopback(so.host) && so.api_key.empty())
      fail("serve: binding to ", so.host, " (not a loopback address) needs --api-key-file");
    // Before any thread starts (OpenMP, scheduler, HTTP): they all inherit the mask, and the
    // one watcher takes SIGTERM/SIGINT (common/stop_signals.h).
    block_stop_signals();
    signal(SIGPIPE, SIG_IGN);

    LoadedModel lm = load_model(margs);
    if (so.model_name.empty()) so.model_name = std::filesystem::path(lm.path).filename().string();
    // chat: the model's template or --chat-template; without one (or without python3-jinja2)
    // the chat route answers 400 with the reason.
    std::unique_ptr<ChatTemplate> chat;
    std::string chat_unavailable;
    try {
      ChatArgs ca;
      ca.chat = true;
      ca.template_file = chat_template_file;
      chat = open_chat_template(ca, lm.model->file(), *lm.tokenizer);
    } catch (const Error& e) {
      if (!chat_template_file.empty()) throw;
      chat_unavailable = std::string("chat is unavailable: ") + e.what();
    }
    serve::Metrics metrics;
    serve::SchedulerOptions sopt;
    sopt.parallel = parallel;
    sopt.prefill_chunk = margs.n_batch;
    sopt.ctx = lm.ctx_opts;
    serve::Scheduler sched(*lm.model, *lm.tokenizer, sopt, metrics);
    if (lm.synthetic) std::fprintf(stderr, "note: %s has synthetic (random) weights; its text is meaningless\n", lm.path.c_str());
    std::fprintf(stderr, "serve: %s on %s, %d slots of %lld tokens, prompt chunks of %lld rows%s\n", so.model_name.c_str(),
                 lm.backend->describe().c_str(), parallel, static_cast<long long>(sched.n_ctx()), static_cast<long long>(margs.n_batch),
                 chat ? "" : " (no chat template)");
    so.on_listening = [](int port) {
      const bool v6 = so.host.find(':') != std::string::npos;
      std::printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", so.host.c_str(), v6 ? "]" : "", port);
      std::fflush(stdout);
    };
    serve::run_server(sched, *lm.tokenizer, chat.get(), chat_unavailable, metrics, so);
    sched.stop();
    std::fprintf(stderr, "serve: stopped\n");
  });
}

}  // namespace sb::cli
