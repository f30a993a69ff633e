// The routes of `sparkbench serve` without sockets (server/router.h): what the HTTP server and
// the HTTP fuzz target call, over a real Scheduler on a tiny synthetic model (llama3-tiny).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "engine/backends/backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/router.h"
#include "tests/test_support.h"

using namespace sb;
using nlohmann::json;

namespace {

struct TinyServer {
  std::unique_ptr<Backend> backend = create_backend("ref", {});
  std::shared_ptr<const GgufFile> file = GgufFile::open(test::preset_model("llama3-tiny"));
  std::unique_ptr<Tokenizer> tok = Tokenizer::from_gguf(*file);
  std::unique_ptr<Model> model = Model::load(file, *backend);
  serve::Metrics metrics;
  serve::Scheduler sched{*model, *tok, options(), metrics};
  static serve::SchedulerOptions options() {
    serve::SchedulerOptions o;
    o.parallel = 2;
    o.ctx.n_ctx = 64;
    return o;
  }
};

serve::HttpRequest request(std::string method, std::string path, std::string body = "",
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  serve::HttpRequest q;
  q.method = std::move(method);
  q.path = std::move(path);
  q.body = std::move(body);
  q.headers = std::move(headers);
  return q;
}

bool is_error_object(const serve::HttpResponse& r, const std::string& code = "") {
  const json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"]["message"].is_string()) return false;
  return code.empty() || (j["error"]["code"].is_string() && j["error"]["code"] == code);
}

class Collect : public serve::StreamSink {
 public:
  bool write(const std::string& d) override {
    events.push_back(d);
    return true;
  }
  bool writable() override { return true; }
  void done() override { ended = true; }
  std::vector<std::string> events;
  bool ended = false;
};

}  // namespace

TEST_CASE("serve router: routes, errors, completions and streams without sockets", "[serve][unit]") {
  TinyServer s;
  serve::ServerOptions opt;
  opt.model_name = "tiny";
  serve::Router router(s.sched, *s.tok, nullptr, "chat is unavailable: test", s.metrics, opt);

  auto r = router.handle(request("GET", "/nope"));
  CHECK(r.status == 404);
  CHECK(is_error_object(r, "not_found"));
  r = router.handle(request("GET", "/v1/completions"));
  CHECK(r.status == 405);
  CHECK(is_error_object(r, "method_not_allowed"));
  CHECK(router.handle(request("POST", "/health")).status == 405);
  r = router.handle(request("HEAD", "/health"));
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["status"] == "ok");
  r = router.handle(request("GET", "/v1/models"));
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["data"][0]["id"] == "tiny");
  CHECK(json::parse(r.body)["data"][0]["max_model_len"] == 64);

  r = router.handle(request("POST", "/v1/completions", "{\"prompt\": "));
  CHECK(r.status == 400);
  CHECK(is_error_object(r));
  r = router.handle(request("POST", "/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 65}}.dump()));
  CHECK(r.status == 400);
  CHECK(is_error_object(r));
  r = router.handle(request("POST", "/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}}.dump()));
  CHECK(r.status == 400);
  CHECK(r.body.find("chat is unavailable: test") != std::string::npos);

  // A real completion: greedy, 3 tokens, ignore_eos so it runs to its length.
  const json body{{"prompt", "Once upon a time"}, {"max_tokens", 3}, {"temperature", 0}, {"ignore_eos", true}};
  r = router.handle(request("POST", "/v1/completions", body.dump()));
  REQUIRE(r.status == 200);
  CHECK_FALSE(r.stream);
  const json done = json::parse(r.body);
  CHECK(done["object"] == "text_completion");
  CHECK(done["model"] == "tiny");
  CHECK(done["usage"]["completion_tokens"] == 3);
  CHECK(done["choices"][0]["finish_reason"] == "length");

  // The same request streamed: data events, the same text, then [DONE].
  json sbody = body;
  sbody["stream"] = true;
  r = router.handle(request("POST", "/v1/completions", sbody.dump()));
  REQUIRE(r.status == 200);
  REQUIRE(r.stream);
  CHECK(r.content_type == "text/event-stream");
  CHECK(router.inflight() == 1);
  Collect sink;
  CHECK(r.stream(sink));
  r.stream_end(true);
  CHECK(sink.ended);
  REQUIRE(sink.events.size() >= 2);
  CHECK(sink.events.back() == "data: [DONE]\n\n");
  std::string text;
  for (size_t i = 0; i + 1 < sink.events.size(); ++i) {
    REQUIRE(sink.events[i].rfind("data: ", 0) == 0);
    const json ch = json::parse(sink.events[i].substr(6));
    text += ch["choices"][0]["text"].get<std::string>();
  }
  CHECK(text == done["choices"][0]["text"].get<std::string>());
  r = serve::HttpResponse{};  // drops the exchange
  CHECK(router.inflight() == 0);

  router.start_draining();
  r = router.handle(request("GET", "/health"));
  CHECK(r.status == 503);
  CHECK(router.handle(request("POST", "/v1/completions", body.dump())).status == 503);
}

TEST_CASE("serve router: with an API key every route but /health needs it", "[serve][unit]") {
  TinyServer s;
  serve::ServerOptions opt;
  opt.api_key = "k3y";
  serve::Router router(s.sched, *s.tok, nullptr, "no chat", s.metrics, opt);
  const std::string body = json{{"prompt", "hello"}, {"max_tokens", 1}}.dump();
  auto r = router.handle(request("POST", "/v1/completions", body));
  CHECK(r.status == 401);
  CHECK(is_error_object(r, "invalid_api_key"));
  CHECK(router.handle(request("POST", "/v1/completions", body, {{"authorization", "Bearer k3x"}})).status == 401);
  CHECK(router.handle(request("POST", "/v1/completions", body, {{"authorization", "Bearer k3y"}})).status == 200);
  CHECK(router.handle(request("GET", "/metrics")).status == 401);
  r = router.handle(request("GET", "/metrics", "", {{"Authorization", "Bearer k3y"}}));
  CHECK(r.status == 200);
  CHECK(r.content_type.rfind("text/plain", 0) == 0);
  CHECK(router.handle(request("GET", "/v1/models")).status == 401);
  CHECK(router.handle(request("GET", "/health")).status == 200);
}
