// ApiClient: a small client for OpenAI-compatible HTTP APIs (our `serve`, llama.cpp's
// llama-server, vLLM, Ollama), over Debian's cpp-httplib.
//
// Endpoint: the API base URL, "http://HOST:PORT/v1" (a URL without a path gets "/v1"; one that
// ends in "/completions" or "/chat/completions" has that suffix dropped, so the URL of an
// endpoint works too). Only plain http (https is refused with an error naming the URL).
//
// post_json() POSTs a JSON body to base + path and returns the parsed JSON answer of a 2xx
// response. post_stream() does the same with server-sent events: each `data:` payload is
// handed to `on_data` as it arrives, with its arrival time on the steady clock, until
// `data: [DONE]` or the end of the body. Both retry with exponential backoff (initial * 2^k,
// capped, no jitter so runs are reproducible) on 429, 5xx and connection failures, up to
// `Retry::max_attempts` attempts; a stream is retried only while nothing has been handed to
// `on_data` (a half-delivered stream is an error, never silently replayed). Every failure is one
// sb::Error line naming the URL, the HTTP status and the server's error message (its OpenAI
// error object's "message" when it sent one), and after retries how many attempts were made.
// 4xx other than 429 are not retried.
//
// The API key (sent as "Authorization: Bearer KEY") is never put in an error message.
// Thread-safe: every request opens its own connection, so one ApiClient may be shared by
// threads (loadgen's concurrent requests, run --api --concurrency).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace sb {

struct ApiEndpoint {
  std::string host;
  int port = 80;
  std::string base_path = "/v1";  // no trailing slash
  std::string url() const;        // "http://host:port/v1"
};
// Parses an API base URL as described above; throws sb::Error naming the URL when it is not one.
ApiEndpoint parse_api_url(const std::string& url);

struct RetryPolicy {
  int max_attempts = 5;  // 1 = no retries
  double initial_backoff_s = 0.5;
  double max_backoff_s = 8.0;
};

class ApiClient {
 public:
  using Clock = std::chrono::steady_clock;
  // `timeout_s`: connect, read and write timeout of each attempt.
  ApiClient(const std::string& url, std::string api_key = "", RetryPolicy retry = {}, double timeout_s = 600);

  nlohmann::json post_json(const std::string& path, const nlohmann::json& body) const;
  nlohmann::json get_json(const std::string& path) const;
  // Returns the number of data events handed over. A payload that on_data cannot use is its
  // business (it throws sb::Error, which ends the request and propagates).
  int64_t post_stream(const std::string& path, const nlohmann::json& body,
                      const std::function<void(const std::string& data, Clock::time_point arrived)>& on_data) const;

  const ApiEndpoint& endpoint() const { return ep_; }
  std::string url(const std::string& path) const { return ep_.url() + path; }
  // Attempts retried so far by this client (all threads), for reports and tests.
  int64_t retries() const;

 private:
  ApiEndpoint ep_;
  std::string key_;
  RetryPolicy retry_;
  double timeout_s_;
  struct Counter;
  std::shared_ptr<Counter> retries_;
};

// The API key from environment variable `var` ("" when var is ""); throws when var is named
// but unset or empty.
std::string api_key_from_env(const std::string& var);

}  // namespace sb
