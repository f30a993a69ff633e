// `sparkbench serve` end to end: a real server process on 127.0.0.1 (ephemeral port) and real
// HTTP clients (cpp-httplib's Client, raw sockets, a python3 client killed mid-stream).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "engine/generate/generate.h"
#include "engine/generate/perplexity.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "evals/chat_template.h"
#include "tests/evals/chat_test_util.h"
#include "tests/harness/serve_process.h"
#include "tests/test_support.h"

using namespace sb;
using nlohmann::json;

namespace {

std::string stories() { return test::shared_path("models/stories260K.gguf"); }

struct Reply {
  int status = 0;
  json body;
  std::string raw;
};

Reply post(int port, const std::string& path, const std::string& body, const httplib::Headers& h = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  auto r = c.Post(path.c_str(), h, body, "application/json");
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.raw = r->body;
  out.body = json::parse(r->body, nullptr, false);
  return out;
}

Reply post(int port, const std::string& path, const json& body) { return post(port, path, body.dump()); }

Reply get(int port, const std::string& path, const httplib::Headers& h = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  auto r = c.Get(path.c_str(), h);
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.raw = r->body;
  out.body = json::parse(r->body, nullptr, false);
  return out;
}

// A streamed POST: the `data:` payloads in order (the last one should be "[DONE]").
std::vector<std::string> stream(int port, const std::string& path, const json& body, int* status = nullptr) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string buf;
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    buf.append(d, n);
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  c.send(req, res, err);
  if (status) *status = res.status;
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = buf.find("data: ", at)) != std::string::npos) {
    const size_t end = buf.find("\n\n", at);
    if (end == std::string::npos) break;
    out.push_back(buf.substr(at + 6, end - at - 6));
    at = end + 2;
  }
  return out;
}

// A value of a /metrics line ("name value"), or NaN.
double metric(int port, const std::string& name) {
  const Reply r = get(port, "/metrics");
  const std::string key = "\n" + name + " ";
  const size_t at = ("\n" + r.raw).find(key);
  if (at == std::string::npos) return NAN;
  return std::stod(r.raw.substr(at + key.size() - 1));
}

bool is_error_object(const Reply& r) {
  return r.body.is_object() && r.body.contains("error") && r.body["error"].is_object() && r.body["error"].contains("message") &&
         r.body["error"]["message"].is_string() && !r.body["error"]["message"].get<std::string>().empty() &&
         r.body["error"].contains("type") && r.body["error"]["type"].is_string() && r.body["error"].contains("param") &&
         r.body["error"].contains("code");
}

struct Local {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  explicit Local(const std::string& path) {
    backend = create_backend("ref");
    auto f = GgufFile::open(path);
    tok = Tokenizer::from_gguf(*f);
    model = Model::load(f, *backend);
  }
  std::string greedy(const std::vector<int32_t>& ids, int n) {
    Context ctx(*model, {.n_ctx = 256});
    GenerateOptions g;
    g.max_tokens = n;
    return generate(ctx, *tok, ids, g).text;
  }
};

}  // namespace

TEST_CASE("serve: completions, streaming, echo + logprobs match the local engine", "[serve][shared]") {
  if (test::skip_without_shared()) return;
  test::ServeProcess srv({"-m", stories(), "--backend", "ref", "--parallel", "4", "-c", "256"});
  const int port = srv.port();
  Local local(stories());
  const std::string prompt = "Once upon a time";
  const std::vector<int32_t> ids = local.tok->encode(prompt, true);
  const std::string want = local.greedy(ids, 24);

  // non-streaming, text and token-id prompts
  Reply r = post(port, "/v1/completions", json{{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}});
  INFO(r.raw);
  REQUIRE(r.status == 200);
  CHECK(r.body["object"] == "text_completion");
  CHECK(r.body["choices"][0]["text"] == want);
  CHECK(r.body["choices"][0]["finish_reason"] == "length");
  CHECK(r.body["usage"]["prompt_tokens"] == ids.size());
  CHECK(r.body["usage"]["completion_tokens"] == 24);
  r = post(port, "/v1/completions", json{{"prompt", ids}, {"max_tokens", 24}, {"temperature", 0}});
  REQUIRE(r.status == 200);
  CHECK(r.body["choices"][0]["text"] == want);

  // streaming: the deltas concatenate to the same text; usage chunk; [DONE] last
  std::vector<std::string> chunks = stream(
      port, "/v1/completions",
      json{{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}, {"stream", true}, {"stream_options", {{"include_usage", true}}}});
  REQUIRE(chunks.size() >= 3);
  CHECK(chunks.back() == "[DONE]");
  std::string text;
  int finishes = 0;
  for (size_t i = 0; i + 2 < chunks.size(); ++i) {
    const json c = json::parse(chunks[i]);
    text += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) ++finishes;
  }
  CHECK(text == want);
  CHECK(finishes == 1);
  const json usage = json::parse(chunks[chunks.size() - 2]);
  CHECK(usage["choices"].empty());
  CHECK(usage["usage"]["completion_tokens"] == 24);

  // echo + logprobs + max_tokens 0: the prompt's log-likelihoods (lm-eval local-completions)
  const std::string scored = "Once upon a time there was a big dog named Max. He liked to run.";
  const std::vector<int32_t> sids = local.tok->encode(scored, true);
  r = post(port, "/v1/completions", json{{"prompt", scored}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 3}, {"temperature", 0}});
  REQUIRE(r.status == 200);
  const json& lp = r.body["choices"][0]["logprobs"];
  CHECK(r.body["choices"][0]["text"] == scored);
  REQUIRE(lp["token_logprobs"].size() == sids.size());
  REQUIRE(lp["tokens"].size() == sids.size());
  REQUIRE(lp["text_offset"].size() == sids.size());
  CHECK(lp["token_logprobs"][0].is_null());
  CHECK(lp["top_logprobs"][0].is_null());
  std::vector<float> logits;
  {
    Context ctx(*local.model, {.n_ctx = 256});
    ctx.eval(sids.data(), int64_t(sids.size()), true, logits);
  }
  const int64_t V = local.model->config().n_vocab;
  double worst = 0;
  for (size_t i = 1; i < sids.size(); ++i) {
    REQUIRE(lp["token_logprobs"][i].is_number());
    const double d = std::fabs(lp["token_logprobs"][i].get<double>() - log_prob(logits.data() + (i - 1) * size_t(V), V, sids[i]));
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    CHECK(lp["top_logprobs"][i].size() >= 3);
    // the text at each offset starts with the token's text (the first word without its space)
    const std::string piece = lp["tokens"][i].get<std::string>();
    const size_t off = lp["text_offset"][i].get<size_t>();
    const std::string body = off == 0 && !piece.empty() && piece[0] == ' ' ? piece.substr(1) : piece;
    CHECK(scored.compare(off, body.size(), body) == 0);
  }
  INFO("max |server - local log-prob| " << worst);
  CHECK(worst < 1e-4);

  // generated-token logprobs with a stop string
  r = post(port, "/v1/completions", json{{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}, {"stop", "Lily"}, {"logprobs", 1}});
  REQUIRE(r.status == 200);
  const size_t cut = want.find("Lily");
  REQUIRE(cut != std::string::npos);
  CHECK(r.body["choices"][0]["text"] == want.substr(0, cut));
  CHECK(r.body["choices"][0]["finish_reason"] == "stop");
  CHECK(r.body["choices"][0]["logprobs"]["token_logprobs"].size() == r.body["usage"]["completion_tokens"]);

  // n choices with a seed are reproducible
  const json sampled = {{"prompt", prompt}, {"max_tokens", 16}, {"temperature", 1.0}, {"n", 3}, {"seed", 7}};
  Reply a = post(port, "/v1/completions", sampled), b = post(port, "/v1/completions", sampled);
  REQUIRE(a.status == 200);
  REQUIRE(a.body["choices"].size() == 3);
  CHECK(a.body["choices"] == b.body["choices"]);

  // models, health, metrics
  r = get(port, "/v1/models");
  REQUIRE(r.status == 200);
  CHECK(r.body["data"][0]["id"] == "stories260K.gguf");
  CHECK(get(port, "/health").body["status"] == "ok");
  CHECK(metric(port, "sparkbench_sequences_active") == 0);
  CHECK(metric(port, "sparkbench_generation_tokens_total") >= 24 * 3);
  CHECK(metric(port, "sparkbench_time_to_first_token_seconds_count") >= 3);
  CHECK(srv.stop() == 0);
}

TEST_CASE("serve: every bad request gets an OpenAI error object and a 4xx status", "[serve][shared]") {
  if (test::skip_without_shared()) return;
  test::ServeProcess srv({"-m", stories(), "--backend", "ref", "--parallel", "2", "-c", "64", "--max-body", "4096"});
  const int port = srv.port();
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "the dog ran. ";
  struct Case {
    std::string body;
    int status;
    std::string param;  // "" = not checked
  };
  const std::vector<Case> cases = {
      {"{not json", 400, ""},
      {"[1, 2]", 400, ""},
      {"", 400, ""},
      {R"({"max_tokens": 4})", 400, "prompt"},
      {R"({"prompt": 5})", 400, "prompt"},
      {R"({"prompt": []})", 400, "prompt"},
      {R"({"prompt": [1, "a"]})", 400, "prompt"},
      {R"({"prompt": [999999]})", 400, "prompt"},
      {R"({"prompt": [-1]})", 400, "prompt"},
      {json{{"prompt", long_prompt}}.dump(), 400, "prompt"},
      {R"({"prompt": "hi", "max_tokens": "ten"})", 400, "max_tokens"},
      {R"({"prompt": "hi", "max_tokens": 1000000000})", 400, "max_tokens"},
      {R"({"prompt": "hi", "max_tokens": 1e300})", 400, "max_tokens"},
      {R"({"prompt": "hi", "max_tokens": -1})", 400, "max_tokens"},
      {R"({"prompt": "hi", "temperature": -1})", 400, "temperature"},
      {R"({"prompt": "hi", "temperature": "hot"})", 400, "temperature"},
      {R"({"prompt": "hi", "top_p": 2})", 400, "top_p"},
      {R"({"prompt": "hi", "n": 1000})", 400, "n"},
      {R"({"prompt": "hi", "n": 0})", 400, "n"},
      {R"({"prompt": "hi", "logprobs": 100})", 400, "logprobs"},
      {R"({"prompt": "hi", "stop": [1, 2]})", 400, "stop"},
      {R"({"prompt": "hi", "stop": ""})", 400, "stop"},
      {R"({"prompt": "hi", "stream": "yes"})", 400, "stream"},
      {R"({"prompt": "hi", "seed": "x"})", 400, "seed"},
      {R"({"prompt": "hi", "stream_options": 3})", 400, "stream_options"},
      {std::string(5000, ' '), 413, ""},
  };
  for (const Case& c : cases) {
    const Reply r = post(port, "/v1/completions", c.body);
    INFO("body: " << c.body.substr(0, 80) << " -> " << r.status << " " << r.raw);
    CHECK(r.status == c.status);
    CHECK(is_error_object(r));
    if (!c.param.empty() && is_error_object(r)) CHECK(r.body["error"]["param"] == c.param);
  }
  // chat: no template in stories260K, bad messages
  for (const std::string& body : {std::string(R"({"messages": [{"role": "user", "content": "hi"}]})"), std::string(R"({"messages": "hi"})"),
                                  std::string(R"({"messages": []})")}) {
    const Reply r = post(port, "/v1/chat/completions", body);
    INFO(body << " -> " << r.raw);
    CHECK(r.status == 400);
    CHECK(is_error_object(r));
  }
  Reply r = get(port, "/v1/nothing");
  CHECK(r.status == 404);
  CHECK(is_error_object(r));
  r = get(port, "/v1/completions");
  CHECK(r.status == 405);
  CHECK(is_error_object(r));
  // and it still serves
  r = post(port, "/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 4}, {"temperature", 0}});
  CHECK(r.status == 200);
  CHECK(metric(port, "sparkbench_sequences_active") == 0);
  CHECK(srv.stop() == 0);
}

TEST_CASE("serve: 64 concurrent clients get the greedy answers of single requests", "[serve][shared][slow]") {
  if (test::skip_without_shared()) return;
  test::ServeProcess srv({"-m", stories(), "--backend", "ref", "--parallel", "8", "-c", "256", "-b", "16"});
  const int port = srv.port();
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog", "Lily and Tom went", "One day, a bird",
                                            "The sun was",      "Mom said",       "Ben had a red",     "In the park there"};
  auto body = [&](size_t i) { return json{{"prompt", prompts[i]}, {"max_tokens", 20}, {"temperature", 0}}; };
  std::vector<std::string> single;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Reply r = post(port, "/v1/completions", body(i));
    REQUIRE(r.status == 200);
    single.push_back(r.body["choices"][0]["text"]);
  }
  // the single answers are the local engine's
  Local local(stories());
  CHECK(single[0] == local.greedy(local.tok->encode(prompts[0], true), 20));
  std::vector<std::string> got(64);
  std::vector<int> status(64, 0);
  std::vector<std::thread> th;
  for (int c = 0; c < 64; ++c)
    th.emplace_back([&, c] {
      const size_t i = size_t(c) % prompts.size();
      if (c % 2 == 0) {
        const Reply r = post(port, "/v1/completions", body(i));
        status[size_t(c)] = r.status;
        if (r.status == 200) got[size_t(c)] = r.body["choices"][0]["text"];
      } else {
        json b = body(i);
        b["stream"] = true;
        int st = 0;
        for (const std::string& d : stream(port, "/v1/completions", b, &st))
          if (d != "[DONE]") got[size_t(c)] += json::parse(d)["choices"][0]["text"].get<std::string>();
        status[size_t(c)] = st;
      }
    });
  for (auto& t : th) t.join();
  for (int c = 0; c < 64; ++c) {
    INFO("client " << c);
    CHECK(status[size_t(c)] == 200);
    CHECK(got[size_t(c)] == single[size_t(c) % prompts.size()]);
  }
  CHECK(metric(port, "sparkbench_sequences_active") == 0);
  CHECK(metric(port, "sparkbench_sequences_queued") == 0);
  CHECK(srv.stop() == 0);
}

TEST_CASE("serve: 200 malformed requests, then it still serves", "[serve][shared]") {
  if (test::skip_without_shared()) return;
  test::ServeProcess srv({"-m", stories(), "--backend", "ref", "--parallel", "2", "-c", "128", "--max-body", "65536"});
  const int port = srv.port();
  std::mt19937 rng(1234);
  const std::string valid = json{{"prompt", "Once upon a time"}, {"max_tokens", 4}, {"temperature", 0}}.dump();
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    std::string body;
    switch (i % 5) {
      case 0:  // random bytes
        body.resize(rng() % 300);
        for (auto& ch : body) ch = char(rng());
        break;
      case 1:  // a truncated valid body
        body = valid.substr(0, rng() % valid.size());
        break;
      case 2: {  // one byte of a valid body flipped
        body = valid;
        body[rng() % body.size()] = char(rng());
        break;
      }
      case 3:  // deep nesting
        body = std::string(5000, '[') + std::string(5000, ']');
        break;
      default: {  // raw garbage on a socket: not even HTTP
        const int s = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          std::string junk = i % 2 ? "GARBAGE \x01\x02\r\n\r\n" : "POST /v1/completions HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{";
          (void)!::send(s, junk.data(), junk.size(), MSG_NOSIGNAL);
          ::shutdown(s, SHUT_WR);
          char buf[512];
          pollfd p{s, POLLIN, 0};
          if (::poll(&p, 1, 2000) > 0) (void)!::recv(s, buf, sizeof buf, 0);
        }
        ::close(s);
        ++answered;
        continue;
      }
    }
    const Reply r = post(port, "/v1/completions", body);
    if (r.status == 200) {  // a flipped byte can leave a valid request
      ++answered;
      continue;
    }
    INFO("request " << i << " -> " << r.status << " " << r.raw.substr(0, 200));
    CHECK(r.status >= 400);
    CHECK(r.status < 500);
    CHECK(is_error_object(r));
    ++answered;
  }
  CHECK(answered == 200);
  CHECK_FALSE(srv.exited());
  const Reply r = post(port, "/v1/completions", valid);
  CHECK(r.status == 200);
  CHECK(r.body["usage"]["completion_tokens"] == 4);
  CHECK(srv.stop() == 0);
}

TEST_CASE("serve: a client killed mid-stream frees its sequence", "[serve][shared]") {
  if (test::skip_without_shared()) return;
  test::ServeProcess srv({"-m", stories(), "--backend", "ref", "--parallel", "2", "-c", "2048"});
  const int port = srv.port();
  static const char* kClient = R"PY(
import sys, json, urllib.request
req = urllib.request.Request(sys.argv[1] + "/v1/completions", data=json.dumps({"prompt": "Once upon a time",
    "max_tokens": 2000, "ignore_eos": True, "stream": True}).encode(), headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    for line in r:
        if line.startswith(b"data: "):
            print("got", flush=True)
)PY";
  int out[2];
  REQUIRE(::pipe(out) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execl("/usr/bin/python3", "python3", "-I", "-c", kClient, srv.url().c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[16];
  pollfd p{out[0], POLLIN, 0};
  REQUIRE(::poll(&p, 1, 60000) > 0);
  REQUIRE(::read(out[0], buf, sizeof buf) > 0);  // the first token arrived
  CHECK(metric(port, "sparkbench_sequences_active") == 1);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(out[0]);
  double active = 1;
  for (int i = 0; i < 300 && active != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    active = metric(port, "sparkbench_sequences_active");
  }
  CHECK(active == 0);
  CHECK(metric(port, "sparkbench_generation_tokens_total") < 2000);  // freed, not run to the end
  const Reply r = post(port, "/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 4}});
  CHECK(r.status == 200);
  CHECK(srv.stop() == 0);
}

TEST_CASE("serve: SIGTERM lets in-flight requests finish, then exits 0", "[serve][shared]") {
  if (test::skip_without_shared()) return;
  test::ServeProcess srv({"-m", stories(), "--backend", "ref", "--parallel", "2", "-c", "1024"});
  const int port = srv.port();
  Reply r;
  std::thread client([&] {
    r = post(port, "/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 600}, {"ignore_eos", true}});
  });
  double gen = 0;
  for (int i = 0; i < 600 && !(gen > 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gen = metric(port, "sparkbench_generation_tokens_total");
  }
  REQUIRE(gen > 0);
  CHECK(srv.stop() == 0);
  client.join();
  INFO(r.raw);
  CHECK(r.status == 200);
  CHECK(r.body["usage"]["completion_tokens"] == 600);
  CHECK(r.body["choices"][0]["finish_reason"] == "length");
}

TEST_CASE("serve: API key and bind address rules", "[serve][synth]") {
  const auto refused = test::run_cli({"serve", "--preset", "codex-spark-mini", "--host", "0.0.0.0", "--port", "0"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("needs --api-key-file") != std::string::npos);
  const std::string dir = test::temp_dir("serve-key");
  { std::ofstream(dir + "/key") << "s3cret-key\n"; }
  test::ServeProcess srv(
      {"-m", test::preset_model("llama3-tiny"), "--backend", "ref", "--parallel", "1", "-c", "64", "--api-key-file", dir + "/key"});
  const int port = srv.port();
  const std::string body = json{{"prompt", "hello"}, {"max_tokens", 2}}.dump();
  Reply r = post(port, "/v1/completions", body);
  CHECK(r.status == 401);
  CHECK(is_error_object(r));
  r = post(port, "/v1/completions", body, {{"Authorization", "Bearer s3cret-kex"}});
  CHECK(r.status == 401);
  r = post(port, "/v1/completions", body, {{"Authorization", "Bearer s3cret-key"}});
  CHECK(r.status == 200);
  CHECK(get(port, "/v1/models").status == 401);
  CHECK(get(port, "/metrics").status == 401);
  CHECK(get(port, "/health").status == 200);
  CHECK(srv.stop() == 0);
}

// A connection to 127.0.0.1:port (blocking), or -1.
int connect_loopback(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s >= 0 && ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return s;
  if (s >= 0) ::close(s);
  return -1;
}

TEST_CASE("serve: a burst of 256 connections is accepted and answered", "[serve][synth]") {
  // All connect before any is accepted: a listen backlog of a few entries (cpp-httplib's built-in
  // 5) overflows, the kernel falls back to SYN cookies and some clients see their connection
  // dropped without an answer.
  test::ServeProcess srv({"-m", test::preset_model("llama3-tiny"), "--backend", "ref", "--parallel", "1", "-c", "64"});
  const int port = srv.port();
  constexpr int kClients = 256;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) fds.push_back(connect_loopback(port));
  const std::string req = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  for (const int s : fds)
    if (s >= 0) (void)!::send(s, req.data(), req.size(), MSG_NOSIGNAL);
  int answered = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kClients; ++i) {
    const int s = fds[size_t(i)];
    std::string got;
    while (s >= 0 && got.find("\r\n") == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd p{s, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) break;
      char buf[256];
      const ssize_t n = ::recv(s, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, size_t(n));
    }
    if (s >= 0) ::close(s);
    INFO("connection " << i << ": " << got.substr(0, 40));
    CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
    answered += got.rfind("HTTP/1.1 200", 0) == 0;
  }
  CHECK(answered == kClients);
  CHECK(srv.stop() == 0);
}

TEST_CASE("serve: a port another server holds is refused with a one-line error (no shared port)", "[serve][synth]") {
  test::ServeProcess srv({"-m", test::preset_model("llama3-tiny"), "--backend", "ref", "--parallel", "1", "-c", "64"});
  const std::string port = std::to_string(srv.port());
  // `timeout`: a second server that did bind would otherwise serve until killed
  const auto r = test::run_process({"timeout", "30", test::sparkbench_bin(), "serve", "-m", test::preset_model("llama3-tiny"), "--backend",
                                    "ref", "-c", "64", "--port", port});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("cannot bind 127.0.0.1:" + port) != std::string::npos);
  CHECK(r.out.find("listening") == std::string::npos);
  CHECK(get(srv.port(), "/health").status == 200);
  CHECK(srv.stop() == 0);
}

TEST_CASE("serve: chat completions through the chat template, streamed and not", "[serve][shared]") {
  if (test::skip_without_shared()) return;
  if (test::skip_without_jinja2()) return;
  const std::string tmpl = test::chat_data("chatml.jinja");
  test::ServeProcess srv({"-m", stories(), "--backend", "ref", "--parallel", "2", "-c", "256", "--chat-template", tmpl});
  const int port = srv.port();
  Local local(stories());
  ChatTemplate::Options o;
  {
    std::ifstream in(tmpl);
    o.source.assign(std::istreambuf_iterator<char>(in), {});
  }
  o.name = tmpl;
  o.bos_token = local.tok->token_text(local.tok->bos_id());
  o.eos_token = local.tok->token_text(local.tok->eos_id());
  ChatTemplate ct(o);
  const std::string rendered = ct.render({{"user", "Tell me a story about a cat."}}, true);
  const std::vector<int32_t> ids = local.tok->encode_chat(rendered);
  const std::string want = local.greedy(ids, 12);
  const json msgs = json::array({{{"role", "user"}, {"content", "Tell me a story about a cat."}}});
  Reply r = post(port, "/v1/chat/completions", json{{"messages", msgs}, {"max_tokens", 12}, {"temperature", 0}});
  INFO(r.raw);
  REQUIRE(r.status == 200);
  CHECK(r.body["object"] == "chat.completion");
  CHECK(r.body["choices"][0]["message"]["role"] == "assistant");
  CHECK(r.body["choices"][0]["message"]["content"] == want);
  CHECK(r.body["usage"]["prompt_tokens"] == ids.size());
  std::vector<std::string> chunks =
      stream(port, "/v1/chat/completions", json{{"messages", msgs}, {"max_tokens", 12}, {"temperature", 0}, {"stream", true}});
  REQUIRE(chunks.size() >= 3);
  CHECK(chunks.back() == "[DONE]");
  CHECK(json::parse(chunks[0])["choices"][0]["delta"]["role"] == "assistant");
  std::string text;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    const json c = json::parse(chunks[i]);
    CHECK(c["object"] == "chat.completion.chunk");
    text += c["choices"][0]["delta"].value("content", "");
  }
  CHECK(text == want);
  // chat logprobs: one entry per generated token, each with its top alternatives
  r = post(port, "/v1/chat/completions",
           json{{"messages", msgs}, {"max_tokens", 5}, {"temperature", 0}, {"logprobs", true}, {"top_logprobs", 2}});
  REQUIRE(r.status == 200);
  const json& content = r.body["choices"][0]["logprobs"]["content"];
  REQUIRE(content.size() == 5);
  for (const json& e : content) {
    CHECK(e["logprob"].get<double>() <= 0);
    CHECK(e["top_logprobs"].size() == 2);
    CHECK(e["top_logprobs"][0]["logprob"].get<double>() >= e["logprob"].get<double>());
  }
  CHECK(srv.stop() == 0);
}

TEST_CASE("serve: prompt lists and n choices, streamed with indexes", "[serve][shared]") {
  if (test::skip_without_shared()) return;
  test::ServeProcess srv({"-m", stories(), "--backend", "ref", "--parallel", "3", "-c", "128"});
  const int port = srv.port();
  Local local(stories());
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog"};
  const json body = {{"prompt", prompts}, {"n", 2}, {"max_tokens", 10}, {"temperature", 0}, {"stream", true}};
  std::vector<std::string> text(4);
  std::vector<int> finishes(4, 0);
  for (const std::string& d : stream(port, "/v1/completions", body)) {
    if (d == "[DONE]") continue;
    const json c = json::parse(d);
    const size_t i = c["choices"][0]["index"].get<size_t>();
    REQUIRE(i < 4);
    text[i] += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) ++finishes[i];
  }
  for (size_t i = 0; i < 4; ++i) {
    INFO("choice " << i);
    CHECK(finishes[i] == 1);
    CHECK(text[i] == local.greedy(local.tok->encode(prompts[i / 2], true), 10));  // prompt p, choice j: index p * n + j
  }
  CHECK(srv.stop() == 0);
}
