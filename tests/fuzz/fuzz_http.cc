// libFuzzer target: arbitrary bytes as one HTTP request through the routes of `sparkbench serve`
// (server/router.h, the function the HTTP server calls for every request) without sockets, in
// front of a real Scheduler running a real (synthetic, tiny) model: llama3-tiny, f16, seed 0,
// synthesized once under the build tree, 2 slots of 64 tokens.
//
// Input: "METHOD PATH\n", header lines "Name: value\n", an empty line, then the body (all
// optional after the method line). A request carrying an Authorization header goes to a
// router configured with the API key "fuzz-key" (the seeds send the right one), any other to
// one without a key, so both the authentication and the unauthenticated paths are reached.
// To keep each input fast (under sanitizers), a JSON object body has max_tokens /
// max_completion_tokens in (4, 64] lowered to 4 (set to 4 when neither is given), n above 2
// lowered to 2 and prompt lists cut to 4 prompts; anything else (wrong types, out-of-range
// values, broken JSON) reaches the API as sent.
//
// Checked on every input: the status is 200..599; an error status has an OpenAI error object
// ({"error": {"message": string, ...}}); a 200 JSON body parses; a stream writes only
// `data: ` events and, when it completes, ends with `data: [DONE]`.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/model/synth.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/router.h"

namespace {

using nlohmann::json;
constexpr int64_t kCtx = 64;
constexpr int kMaxTokens = 4;

struct Server {
  std::unique_ptr<sb::Backend> backend;
  std::unique_ptr<sb::Tokenizer> tok;
  std::unique_ptr<sb::Model> model;
  sb::serve::Metrics metrics;
  std::unique_ptr<sb::serve::Scheduler> sched;
  sb::serve::ServerOptions open, keyed;
  std::unique_ptr<sb::serve::Router> router, keyed_router;
};

Server* server = nullptr;

[[noreturn]] void violation(const std::string& what, const std::string& body) {
  std::fprintf(stderr, "fuzz_http: %s\nbody: %.2000s\n", what.c_str(), body.c_str());
  std::abort();
}

void check_error_object(const sb::serve::HttpResponse& r) {
  const json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object() || !j["error"].contains("message") ||
      !j["error"]["message"].is_string())
    violation("status " + std::to_string(r.status) + " without an OpenAI error object", r.body);
}

class CollectSink : public sb::serve::StreamSink {
 public:
  bool write(const std::string& data) override {
    if (data.rfind("data: ", 0) != 0 || data.size() < 8 || data.compare(data.size() - 2, 2, "\n\n") != 0)
      violation("a stream write that is not one `data: ...\\n\\n` event", data);
    last = data;
    return true;
  }
  bool writable() override { return true; }
  void done() override { ended = true; }
  std::string last;
  bool ended = false;
};

// Lowers the values that make a request slow (see the top of the file).
std::string cap_body(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return body;
  for (const char* k : {"max_tokens", "max_completion_tokens"})
    if (j.contains(k) && j[k].is_number_integer() && j[k].get<int64_t>() > kMaxTokens && j[k].get<int64_t>() <= kCtx) j[k] = kMaxTokens;
  if (!j.contains("max_tokens") && !j.contains("max_completion_tokens")) j["max_tokens"] = kMaxTokens;  // default 16
  if (j.contains("n") && j["n"].is_number_integer() && j["n"].get<int64_t>() > 2) j["n"] = 2;
  if (j.contains("prompt") && j["prompt"].is_array() && j["prompt"].size() > 4 && (j["prompt"][0].is_string() || j["prompt"][0].is_array()))
    j["prompt"].erase(j["prompt"].begin() + 4, j["prompt"].end());
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

sb::serve::HttpRequest parse_request(const std::string& in) {
  sb::serve::HttpRequest q;
  size_t eol = in.find('\n');
  const std::string first = in.substr(0, eol);
  const size_t sp = first.find(' ');
  q.method = first.substr(0, sp);
  q.path = sp == std::string::npos ? "" : first.substr(sp + 1);
  size_t pos = eol == std::string::npos ? in.size() : eol + 1;
  while (pos < in.size()) {
    eol = in.find('\n', pos);
    const std::string line = in.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? in.size() : eol + 1;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    q.headers.emplace_back(line.substr(0, colon), value);
  }
  q.body = cap_body(in.substr(pos));
  return q;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  try {
    const std::filesystem::path dir = std::filesystem::path(SPARKBENCH_BINARY_DIR) / "fuzz-models";
    std::filesystem::create_directories(dir);
    sb::SynthOptions so;
    so.preset = "llama3-tiny";
    const std::string path = (dir / sb::synth_file_name(so)).string();
    if (!std::filesystem::exists(path)) sb::synthesize_model(so, path);
    server = new Server;
    sb::BackendOptions bo;
    bo.threads = 1;
    try {
      server->backend = sb::create_backend("cpu", bo);
    } catch (const sb::Error&) {
      server->backend = sb::create_backend("ref", bo);
    }
    auto file = sb::GgufFile::open(path);
    server->tok = sb::Tokenizer::from_gguf(*file);
    server->model = sb::Model::load(file, *server->backend);
    sb::serve::SchedulerOptions sopt;
    sopt.parallel = 2;
    sopt.prefill_chunk = 32;
    sopt.ctx.n_ctx = kCtx;
    server->sched = std::make_unique<sb::serve::Scheduler>(*server->model, *server->tok, sopt, server->metrics);
    server->open.model_name = server->keyed.model_name = "llama3-tiny";
    server->keyed.api_key = "fuzz-key";
    server->router = std::make_unique<sb::serve::Router>(*server->sched, *server->tok, nullptr, "chat is unavailable: no template (fuzz)",
                                                         server->metrics, server->open);
    server->keyed_router = std::make_unique<sb::serve::Router>(*server->sched, *server->tok, nullptr,
                                                               "chat is unavailable: no template (fuzz)", server->metrics, server->keyed);
  } catch (const sb::Error& e) {
    std::fprintf(stderr, "fuzz_http: cannot set up the server: %s\n", e.what());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sb::serve::HttpRequest q = parse_request(std::string(reinterpret_cast<const char*>(data), size));
  sb::serve::Router& router = q.header("Authorization").empty() ? *server->router : *server->keyed_router;
  sb::serve::HttpResponse r = router.handle(q);
  if (r.status < 200 || r.status > 599) violation("status " + std::to_string(r.status), r.body);
  if (r.status >= 400) {
    check_error_object(r);
    return 0;
  }
  if (r.stream) {
    if (!r.body.empty()) violation("a streamed response with a body", r.body);
    CollectSink sink;
    const bool ok = r.stream(sink);
    if (ok && (!sink.ended || sink.last != "data: [DONE]\n\n")) violation("a completed stream without [DONE]", sink.last);
    if (r.stream_end) r.stream_end(ok);
    return 0;
  }
  if (r.content_type == "application/json" && json::parse(r.body, nullptr, false).is_discarded())
    violation("a 200 JSON response that does not parse", r.body);
  return 0;
}
