#include "evals/http_client.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <thread>

#include <httplib.h>

#include "engine/core/error.h"

namespace sb {

struct ApiClient::Counter {
  std::atomic<int64_t> n{0};
};

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// The server's own words for a failed request: the OpenAI error object's message, else the
// start of the body.
std::string error_text(const std::string& body) {
  try {
    auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("error")) {
      const auto& e = j["error"];
      if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
      if (e.is_string()) return e.get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  std::string s = body.substr(0, 200);
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

bool retryable_status(int status) { return status == 429 || status >= 500; }

}  // namespace

std::string ApiEndpoint::url() const { return "http://" + host + ":" + std::to_string(port) + base_path; }

ApiEndpoint parse_api_url(const std::string& url) {
  std::string rest = url;
  if (starts_with(rest, "https://")) fail(url, ": https is not supported (use http://, e.g. through a local TLS proxy)");
  if (!starts_with(rest, "http://")) fail(url, ": not an http:// URL (expected e.g. http://127.0.0.1:8080/v1)");
  rest = rest.substr(7);
  const size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (const char* suffix : {"/chat/completions", "/completions"})
    if (ends_with(path, suffix)) path.resize(path.size() - std::string(suffix).size());
  if (path.empty()) path = "/v1";
  ApiEndpoint ep;
  ep.base_path = path;
  if (hostport.empty()) fail(url, ": no host");
  const size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']') == std::string::npos) {
    ep.host = hostport.substr(0, colon);
    const std::string p = hostport.substr(colon + 1);
    char* end = nullptr;
    const long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end || v <= 0 || v > 65535) fail(url, ": bad port '", p, "'");
    ep.port = int(v);
  } else {
    ep.host = hostport;
  }
  if (ep.host.empty()) fail(url, ": no host");
  return ep;
}

std::string api_key_from_env(const std::string& var) {
  if (var.empty()) return "";
  const char* v = std::getenv(var.c_str());
  if (!v || !*v) fail("--api-key-env ", var, ": the environment variable is not set (or empty)");
  return v;
}

ApiClient::ApiClient(const std::string& url, std::string api_key, RetryPolicy retry, double timeout_s)
    : ep_(parse_api_url(url)), key_(std::move(api_key)), retry_(retry), timeout_s_(timeout_s), retries_(std::make_shared<Counter>()) {
  if (retry_.max_attempts < 1) retry_.max_attempts = 1;
}

int64_t ApiClient::retries() const { return retries_->n.load(); }

namespace {

struct Attempt {
  bool connected = false;  // an HTTP response arrived
  int status = 0;
  std::string body;       // the whole body (non-stream, or an error status)
  std::string transport;  // connection error text
};

}  // namespace

// One request with retries. `stream` non-null: the body of a 2xx response is fed to it as it
// arrives (returns false to abort); `delivered` says whether it consumed anything yet.
static Attempt send_with_retries(const ApiEndpoint& ep, const std::string& key, const RetryPolicy& retry, double timeout_s,
                                 std::atomic<int64_t>& retries, const std::string& method, const std::string& path, const std::string& body,
                                 const std::function<bool(const char*, size_t)>* stream, const std::function<bool()>& delivered,
                                 int* attempts_out) {
  Attempt a;
  int attempt = 0;
  for (;;) {
    ++attempt;
    a = Attempt{};
    httplib::Client cli(ep.host, ep.port);
    const auto secs = time_t(timeout_s);
    const auto usecs = time_t((timeout_s - double(secs)) * 1e6);
    cli.set_connection_timeout(secs, usecs);
    cli.set_read_timeout(secs, usecs);
    cli.set_write_timeout(secs, usecs);
    httplib::Request req;
    req.method = method;
    req.path = ep.base_path + path;
    req.headers.emplace("Accept", stream ? "text/event-stream" : "application/json");
    if (!key.empty()) req.headers.emplace("Authorization", "Bearer " + key);
    if (method == "POST") {
      req.headers.emplace("Content-Type", "application/json");
      req.body = body;
    }
    req.response_handler = [&](const httplib::Response& r) {
      a.connected = true;
      a.status = r.status;
      return true;
    };
    if (stream) {
      req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        if (a.status / 100 != 2) {
          if (a.body.size() < 65536) a.body.append(data, n);
          return true;
        }
        return (*stream)(data, n);
      };
    }
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool ok = cli.send(req, res, err);
    if (ok) {
      a.connected = true;
      a.status = res.status;
      if (!stream) a.body = res.body;
    } else if (err == httplib::Error::Canceled && a.connected && a.status / 100 == 2) {
      a.transport = "stream aborted";
    } else if (err == httplib::Error::Connection) {
      a.transport = "could not connect to " + ep.host + ":" + std::to_string(ep.port);
    } else {
      a.transport = httplib::to_string(err);
    }
    const bool transient = (!ok && !(stream && delivered())) || (ok && retryable_status(a.status));
    if (!transient || attempt >= retry.max_attempts || (stream && delivered())) break;
    ++retries;
    const double wait = std::min(retry.max_backoff_s, retry.initial_backoff_s * std::pow(2.0, attempt - 1));
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
  *attempts_out = attempt;
  return a;
}

namespace {
[[noreturn]] void fail_attempt(const std::string& url, const Attempt& a, int attempts) {
  const std::string tries = attempts > 1 ? cat(" (after ", attempts, " attempts)") : std::string();
  if (!a.transport.empty() && (a.status == 0 || a.status / 100 == 2)) fail(url, ": connection failed: ", a.transport, tries);
  fail(url, ": HTTP ", a.status, tries, a.body.empty() ? "" : ": ", error_text(a.body));
}
}  // namespace

nlohmann::json ApiClient::post_json(const std::string& path, const nlohmann::json& body) const {
  int attempts = 0;
  const Attempt a = send_with_retries(
      ep_, key_, retry_, timeout_s_, retries_->n, "POST", path, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      nullptr, [] { return false; }, &attempts);
  if (!a.transport.empty() || a.status / 100 != 2) fail_attempt(url(path), a, attempts);
  try {
    return nlohmann::json::parse(a.body);
  } catch (const nlohmann::json::exception& e) {
    fail(url(path), ": the response is not JSON (", e.what(), ")");
  }
}

nlohmann::json ApiClient::get_json(const std::string& path) const {
  int attempts = 0;
  const Attempt a = send_with_retries(
      ep_, key_, retry_, timeout_s_, retries_->n, "GET", path, "", nullptr, [] { return false; }, &attempts);
  if (!a.transport.empty() || a.status / 100 != 2) fail_attempt(url(path), a, attempts);
  try {
    return nlohmann::json::parse(a.body);
  } catch (const nlohmann::json::exception& e) {
    fail(url(path), ": the response is not JSON (", e.what(), ")");
  }
}

int64_t ApiClient::post_stream(const std::string& path, const nlohmann::json& body,
                               const std::function<void(const std::string&, Clock::time_point)>& on_data) const {
  int64_t events = 0;
  bool done = false;
  std::string line;
  std::exception_ptr thrown;  // from on_data, rethrown after the transfer stops
  auto on_bytes = std::function<bool(const char*, size_t)>([&](const char* data, size_t n) {
    const auto arrived = Clock::now();
    for (size_t i = 0; i < n; ++i) {
      const char ch = data[i];
      if (ch != '\n') {
        line += ch;
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      // SSE: "data: payload" (the space is optional); comments (":...") and other fields are ignored.
      if (starts_with(line, "data:")) {
        std::string payload = line.substr(5);
        if (!payload.empty() && payload[0] == ' ') payload.erase(0, 1);
        if (payload == "[DONE]") {
          done = true;
          line.clear();
          return false;
        }
        ++events;
        try {
          on_data(payload, arrived);
        } catch (...) {
          thrown = std::current_exception();
          line.clear();
          return false;
        }
      }
      line.clear();
    }
    return true;
  });
  int attempts = 0;
  const Attempt a = send_with_retries(
      ep_, key_, retry_, timeout_s_, retries_->n, "POST", path, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      &on_bytes, [&] { return events > 0 || done || thrown; }, &attempts);
  if (thrown) std::rethrow_exception(thrown);
  if (done) return events;
  if (a.status / 100 != 2 || (!a.transport.empty() && a.transport != "stream aborted")) {
    if (a.connected && a.status / 100 == 2 && events > 0) fail(url(path), ": the stream broke after ", events, " events: ", a.transport);
    fail_attempt(url(path), a, attempts);
  }
  // The body ended without [DONE]: a last unterminated line may still hold an event.
  if (!line.empty()) on_bytes("\n", 1);
  if (thrown) std::rethrow_exception(thrown);
  return events;
}

}  // namespace sb
