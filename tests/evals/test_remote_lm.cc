// Fault injection for the API client side (evals/http_client.h, evals/openai_api.h,
// evals/remote_lm.h): a cpp-httplib server inside the test answers with scripted failures
// (429, 5xx, malformed streams, answers without prompt log-probs). The happy path against the
// real `sparkbench serve` is tested in tests/harness/test_cli_api.cc.
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/http_client.h"
#include "evals/openai_api.h"
#include "evals/remote_lm.h"

namespace {

// A server on 127.0.0.1 with an ephemeral port, serving `setup`'s handlers until destroyed.
struct FaultServer {
  httplib::Server srv;
  std::thread th;
  int port = 0;
  explicit FaultServer(const std::function<void(httplib::Server&)>& setup) {
    setup(srv);
    port = srv.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    th = std::thread([this] { srv.listen_after_bind(); });
    while (!srv.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FaultServer() {
    srv.stop();
    th.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
};

const sb::RetryPolicy kFast{4, 0.01, 0.05};

// An echo answer for "AB" + "CD" as tokens "A","B","C","D" (offsets 0..3).
nlohmann::json echo_answer(bool with_logprobs, double top_c = -0.5) {
  nlohmann::json c{{"text", "ABCD"}, {"index", 0}, {"finish_reason", "length"}};
  if (with_logprobs)
    c["logprobs"] = {{"tokens", {"A", "B", "C", "D"}},
                     {"token_logprobs", {nullptr, -1.0, -0.5, -0.25}},
                     {"top_logprobs", {nullptr, {{"B", -1.0}}, {{"X", top_c}}, {{"D", -0.25}}}},
                     {"text_offset", {0, 1, 2, 3}}};
  else
    c["logprobs"] = nullptr;
  return {{"id", "x"}, {"object", "text_completion"}, {"choices", {c}}};
}

}  // namespace

TEST_CASE("api client: parses base URLs and refuses what it cannot use", "[unit][api]") {
  auto ep = sb::parse_api_url("http://127.0.0.1:8080/v1");
  CHECK(ep.host == "127.0.0.1");
  CHECK(ep.port == 8080);
  CHECK(ep.base_path == "/v1");
  CHECK(sb::parse_api_url("http://localhost:9000").base_path == "/v1");
  CHECK(sb::parse_api_url("http://h:1/v1/completions").base_path == "/v1");
  CHECK(sb::parse_api_url("http://h:1/api/v1/chat/completions/").base_path == "/api/v1");
  CHECK_THROWS_WITH(sb::parse_api_url("https://h/v1"), Catch::Contains("https is not supported"));
  CHECK_THROWS_WITH(sb::parse_api_url("ftp://h/v1"), Catch::Contains("not an http:// URL"));
  CHECK_THROWS_WITH(sb::parse_api_url("http://h:99999/v1"), Catch::Contains("bad port"));
}

TEST_CASE("api client: retries 429 and 503 with backoff, then succeeds", "[unit][api]") {
  std::atomic<int> calls{0};
  FaultServer fs([&](httplib::Server& s) {
    s.Post("/v1/completions", [&](const httplib::Request&, httplib::Response& res) {
      const int k = ++calls;
      if (k == 1) {
        res.status = 429;
        res.set_content(R"({"error":{"message":"slow down","type":"rate_limit"}})", "application/json");
      } else if (k == 2) {
        res.status = 503;
        res.set_content("busy", "text/plain");
      } else {
        res.set_content(echo_answer(true).dump(), "application/json");
      }
    });
  });
  sb::RemoteLM lm(fs.url(), "m", "", kFast);
  const auto r = lm.loglikelihood({"AB", "CD", false});
  CHECK(calls == 3);
  CHECK(lm.client().retries() == 2);
  CHECK(r.n_tokens == 2);
  CHECK(r.logprob == Approx(-0.75));
  CHECK(r.is_greedy);
}

TEST_CASE("api client: 5xx until the attempts run out is one clear error", "[unit][api]") {
  std::atomic<int> calls{0};
  FaultServer fs([&](httplib::Server& s) {
    s.Post("/v1/completions", [&](const httplib::Request&, httplib::Response& res) {
      ++calls;
      res.status = 500;
      res.set_content(R"({"error":{"message":"model exploded"}})", "application/json");
    });
  });
  sb::RemoteLM lm(fs.url(), "m", "", kFast);
  try {
    lm.loglikelihood({"AB", "CD", false});
    FAIL("no error");
  } catch (const sb::Error& e) {
    const std::string m = e.what();
    CHECK(m.find("/v1/completions") != std::string::npos);
    CHECK(m.find("HTTP 500") != std::string::npos);
    CHECK(m.find("after 4 attempts") != std::string::npos);
    CHECK(m.find("model exploded") != std::string::npos);
  }
  CHECK(calls == 4);
}

TEST_CASE("api client: a 400 is not retried", "[unit][api]") {
  std::atomic<int> calls{0};
  FaultServer fs([&](httplib::Server& s) {
    s.Post("/v1/completions", [&](const httplib::Request&, httplib::Response& res) {
      ++calls;
      res.status = 400;
      res.set_content(R"({"error":{"message":"bad max_tokens"}})", "application/json");
    });
  });
  sb::RemoteLM lm(fs.url(), "m", "", kFast);
  CHECK_THROWS_WITH(lm.loglikelihood({"AB", "CD", false}), Catch::Contains("HTTP 400: bad max_tokens"));
  CHECK(calls == 1);
}

TEST_CASE("api client: a refused connection is retried and then reported", "[unit][api]") {
  int port = 0;
  {
    FaultServer fs([](httplib::Server&) {});
    port = fs.port;
  }  // closed: nothing listens there now
  sb::RemoteLM lm("http://127.0.0.1:" + std::to_string(port) + "/v1", "m", "", sb::RetryPolicy{2, 0.01, 0.01});
  CHECK_THROWS_WITH(lm.generate({"hi"}), Catch::Contains("connection failed") && Catch::Contains("after 2 attempts"));
  CHECK(lm.client().retries() == 1);
}

TEST_CASE("api client: log-likelihood from echo log-probs, greedy flag from top log-probs", "[unit][api]") {
  nlohmann::json seen;
  FaultServer fs([&](httplib::Server& s) {
    s.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
      seen = nlohmann::json::parse(req.body);
      res.set_content(echo_answer(true, -0.1).dump(), "application/json");  // "X" beats "C"
    });
  });
  sb::RemoteLM lm(fs.url(), "tiny", "", kFast);
  const auto r = lm.loglikelihood({"AB", "CD", false});
  CHECK(seen["prompt"] == "ABCD");
  CHECK(seen["echo"] == true);
  CHECK(seen["max_tokens"] == 0);
  CHECK(seen["logprobs"] == 1);
  CHECK(seen["model"] == "tiny");
  CHECK(r.n_tokens == 2);
  CHECK(r.logprob == Approx(-0.75));
  CHECK_FALSE(r.is_greedy);
  // The boundary falls inside a token: "B" ends past "A", so it belongs to the continuation.
  const auto r2 = lm.loglikelihood({"A", "BCD", false});
  CHECK(r2.n_tokens == 3);
  CHECK(r2.logprob == Approx(-1.75));
  const auto roll = lm.loglikelihood_rolling("ABCD");
  CHECK(roll.n_tokens == 3);  // the first token has no log-prob
  CHECK(roll.logprob == Approx(-1.75));
  CHECK(roll.n_bytes == 4);
  CHECK(lm.identity() == "api|" + fs.url() + "|model=tiny");
}

TEST_CASE("api client: a server without prompt log-probs gets MissingPromptLogprobs", "[unit][api]") {
  FaultServer fs([&](httplib::Server& s) {
    s.Post("/v1/completions",
           [&](const httplib::Request&, httplib::Response& res) { res.set_content(echo_answer(false).dump(), "application/json"); });
  });
  sb::RemoteLM lm(fs.url(), "m", "", kFast);
  CHECK_THROWS_AS(lm.loglikelihood({"AB", "CD", false}), sb::MissingPromptLogprobs);
  CHECK_THROWS_WITH(lm.loglikelihood_rolling("ABCD"), Catch::Contains("no prompt log-probs"));
}

TEST_CASE("api client: streams are read event by event; malformed ones are clear errors", "[unit][api]") {
  std::string script;
  std::atomic<int> calls{0};
  FaultServer fs([&](httplib::Server& s) {
    s.Post("/v1/completions", [&](const httplib::Request&, httplib::Response& res) {
      ++calls;
      res.set_content(script, "text/event-stream");
    });
  });
  sb::RemoteLM lm(fs.url(), "m", "", kFast);
  SECTION("a good stream with usage") {
    script =
        "data: {\"choices\":[{\"text\":\"Hel\",\"finish_reason\":null}]}\n\n"
        ": a comment\n\n"
        "data: {\"choices\":[{\"text\":\"lo\",\"finish_reason\":\"length\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n"
        "data: [DONE]\n\n";
    const auto g = lm.generate({"hi"});
    CHECK(g.text == "Hello");
    CHECK(g.stop_reason == "length");
    CHECK(g.n_prompt_tokens == 3);
    CHECK(g.n_gen_tokens == 2);
    CHECK(g.ttft_ms >= 0);
    CHECK(g.total_ms >= g.ttft_ms);
  }
  SECTION("no usage: tokens counted from chunks") {
    script =
        "data: {\"choices\":[{\"text\":\"a\"}]}\r\n\r\ndata: {\"choices\":[{\"text\":\"b\"}]}\r\n\r\ndata: "
        "{\"choices\":[{\"text\":\"c\"}]}\n\ndata: [DONE]\n\n";
    const auto g = lm.generate({"hi"});
    CHECK(g.text == "abc");
    CHECK(g.n_gen_tokens == 3);
  }
  SECTION("an empty completion: only [DONE], asked once") {
    script = "data: [DONE]\n\n";
    const auto g = lm.generate({"hi"});
    CHECK(g.text.empty());
    CHECK(g.n_gen_tokens == 0);
    CHECK(calls == 1);
  }
  SECTION("an event that is not JSON") {
    script = "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {oops\n\ndata: [DONE]\n\n";
    CHECK_THROWS_WITH(lm.generate({"hi"}), Catch::Contains("stream event 2 is not JSON"));
  }
  SECTION("an error object in the stream") {
    script = "data: {\"error\":{\"message\":\"out of memory\"}}\n\n";
    CHECK_THROWS_WITH(lm.generate({"hi"}), Catch::Contains("out of memory"));
  }
  SECTION("text of the wrong type") {
    script = "data: {\"choices\":[{\"text\":42}]}\n\n";
    CHECK_THROWS_WITH(lm.generate({"hi"}), Catch::Contains("not a string"));
  }
}

TEST_CASE("api client: a stream that fails with 429 first is retried", "[unit][api]") {
  std::atomic<int> calls{0};
  FaultServer fs([&](httplib::Server& s) {
    s.Post("/v1/completions", [&](const httplib::Request&, httplib::Response& res) {
      if (++calls == 1) {
        res.status = 429;
        res.set_content(R"({"error":{"message":"later"}})", "application/json");
        return;
      }
      res.set_content("data: {\"choices\":[{\"text\":\"ok\"}]}\n\ndata: [DONE]\n\n", "text/event-stream");
    });
  });
  sb::RemoteLM lm(fs.url(), "m", "", kFast);
  CHECK(lm.generate({"hi"}).text == "ok");
  CHECK(calls == 2);
}

TEST_CASE("api client: the API key is sent as a bearer token and read from the environment", "[unit][api]") {
  std::string auth;
  FaultServer fs([&](httplib::Server& s) {
    s.Get("/v1/models", [&](const httplib::Request& req, httplib::Response& res) {
      auth = req.get_header_value("Authorization");
      res.set_content(R"({"object":"list","data":[{"id":"m"}]})", "application/json");
    });
  });
  ::setenv("SB_TEST_API_KEY", "s3cret", 1);
  sb::ApiClient api(fs.url(), sb::api_key_from_env("SB_TEST_API_KEY"), kFast);
  CHECK(api.get_json("/models")["data"][0]["id"] == "m");
  CHECK(auth == "Bearer s3cret");
  ::unsetenv("SB_TEST_API_KEY_MISSING");
  CHECK_THROWS_WITH(sb::api_key_from_env("SB_TEST_API_KEY_MISSING"), Catch::Contains("SB_TEST_API_KEY_MISSING"));
}
