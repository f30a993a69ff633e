// The routes of `sparkbench serve` as a function from a request to a response, without sockets:
// server/http_server.cc adapts cpp-httplib's requests to Router::handle, and the HTTP fuzz
// target (tests/fuzz/fuzz_http.cc) calls it directly with a real Scheduler.
//
// Routes (server/http_server.h lists what each answers): POST /v1/completions,
// POST /v1/chat/completions, GET /v1/models, GET /health, GET /metrics. Any other path: 404,
// a known path with another method: 405; errors are OpenAI-style error objects (ApiError).
// A completion request blocks in handle() until its last event unless it asked for
// `stream: true`; then handle() returns at once with HttpResponse::stream set, which writes
// the server-sent events (`data: <chunk>\n\n`, then `data: [DONE]\n\n`) to a StreamSink.
//
// Thread-safety: handle() may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/scheduler.h"

namespace sb {
class ChatTemplate;
}

namespace sb::serve {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header named `name` (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

// Where a streamed response goes: write() is false once the client is gone.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool write(const std::string& data) = 0;
  virtual bool writable() = 0;  // checked while waiting for the next token
  virtual void done() = 0;      // the stream ended normally
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Streamed responses only (body empty): writes every chunk; false when the client went away.
  std::function<bool(StreamSink&)> stream;
  // Streamed responses only: called once after the stream, with whether it completed.
  std::function<void(bool success)> stream_end;
};

// The response for an error status cpp-httplib produces itself (413 body too large, 404, 405,
// 400 malformed request, 5xx).
HttpResponse error_response(int status);
// An ApiError as a response (its status and error object).
HttpResponse error_response(const ApiError& e);

class Router {
 public:
  // `chat` may be null: chat requests then fail with 400 and `chat_unavailable` as the message.
  Router(Scheduler& sched, const Tokenizer& tok, ChatTemplate* chat, std::string chat_unavailable, Metrics& metrics,
         const ServerOptions& opt);
  HttpResponse handle(const HttpRequest& req);
  // From now on completion requests get 503 and /health answers 503 {"status":"draining"}.
  void start_draining() { draining_ = true; }
  // Completion requests not yet answered (streams included).
  int inflight() const { return inflight_; }

 private:
  bool authorized(const HttpRequest& req, HttpResponse& res) const;
  HttpResponse completion(const HttpRequest& req, bool is_chat);

  Scheduler& sched_;
  const Tokenizer& tok_;
  ChatTemplate* chat_;
  const std::string chat_unavailable_;
  Metrics& metrics_;
  const ServerOptions& opt_;
  std::atomic<bool> draining_{false};
  std::atomic<int> inflight_{0};
  std::atomic<uint64_t> next_id_{1};
  std::mutex chat_mu_;
};

}  // namespace sb::serve
