// The HTTP side of `sparkbench serve`: routes of an OpenAI-compatible API on cpp-httplib
// (Debian's libcpp-httplib-dev), in front of a Scheduler (server/scheduler.h). What each route
// answers is server/router.h (request -> response, no sockets); this file adapts cpp-httplib to it.
//
// Routes: POST /v1/completions, POST /v1/chat/completions (server/api.h for the formats),
// GET /v1/models, GET /health ({"status":"ok"}, 503 while draining), GET /metrics
// (server/metrics.h). Anything else: 404, wrong method: 405, all with an OpenAI-style error
// object; bodies over `max_body` bytes: 413; a body that is not JSON: 400.
//
// Streaming (`stream: true`) answers with server-sent events, `data: <chunk>\n\n` per chunk
// and `data: [DONE]\n\n` at the end. A client that goes away (a failed write, or a socket no
// longer writable while waiting for tokens) cancels its Job, which frees its slots.
//
// Security: with a non-empty api_key every route except /health needs
// `Authorization: Bearer <key>` (401 otherwise); keys are compared through their SHA-256
// digests with a loop that does not stop early. Binding to a non-loopback address without a
// key is refused (sb::Error) by run_server.
//
// Listening socket: SO_REUSEADDR only (a port another process holds is an sb::Error, never
// shared through SO_REUSEPORT), and a backlog of SOMAXCONN so a burst of clients is queued, not
// dropped (cpp-httplib's own backlog is 5).
//
// Shutdown: run_server holds a StopOnSignal (common/stop_signals.h; callers call
// block_stop_signals() before starting any thread, see harness/cmd_serve.cc) from before it
// binds. On SIGTERM or SIGINT: new completion requests get 503, in-flight ones finish (their
// responses are written), then the listener stops and run_server returns. Before that (while
// the model loads) the two signals end the process.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "engine/tokenizer/tokenizer.h"
#include "server/metrics.h"
#include "server/scheduler.h"

namespace sb {
class ChatTemplate;
}

namespace sb::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;         // 0: an ephemeral port
  std::string api_key;     // empty: no authentication (loopback only)
  std::string model_name;  // the id /v1/models lists and responses carry
  size_t max_body = size_t(8) << 20;
  int http_threads = 64;  // handler threads (each open request holds one)
  // Called once the socket is bound, with the port (the caller prints the listening line).
  std::function<void(int port)> on_listening;
};

// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);
// Constant-time comparison of two keys (through their SHA-256 digests).
bool keys_equal(const std::string& a, const std::string& b);

// Serves until SIGTERM/SIGINT, then drains. `chat` may be null (chat requests then fail with
// 400 and `chat_unavailable` as the message). Throws sb::Error when it cannot bind.
void run_server(Scheduler& sched, const Tokenizer& tok, ChatTemplate* chat, const std::string& chat_unavailable, Metrics& metrics,
                const ServerOptions& opt);

}  // namespace sb::serve
