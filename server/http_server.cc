#include "server/http_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <httplib.h>

#include "common/stop_signals.h"
#include "engine/core/error.h"
#include "engine/core/sha256.h"
#include "server/api.h"
#include "server/router.h"

namespace sb::serve {

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

bool keys_equal(const std::string& a, const std::string& b) {
  const std::string x = sha256_hex(a), y = sha256_hex(b);
  unsigned diff = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) diff |= unsigned(uint8_t(x[i]) ^ uint8_t(y[i]));
  return diff == 0 && x.size() == y.size();
}

namespace {

const char* route_label(const std::string& path) {
  for (const char* p : {"/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics"})
    if (path == p) return p;
  return "other";
}

void send(httplib::Response& res, const HttpResponse& r) {
  res.status = r.status;
  res.set_content(r.body, r.content_type.c_str());
}

// A streamed response's writes go to cpp-httplib's sink.
class HttplibSink : public StreamSink {
 public:
  explicit HttplibSink(httplib::DataSink& sink) : sink_(sink) {}
  bool write(const std::string& data) override { return sink_.write(data.data(), data.size()); }
  bool writable() override { return sink_.is_writable(); }
  void done() override { sink_.done(); }

 private:
  httplib::DataSink& sink_;
};

}  // namespace

void run_server(Scheduler& sched, const Tokenizer& tok, ChatTemplate* chat, const std::string& chat_unavailable, Metrics& metrics,
                const ServerOptions& opt) {
  if (!is_loopback(opt.host) && opt.api_key.empty()) fail("serve: binding to ", opt.host, " (not a loopback address) needs --api-key-file");
  httplib::Server svr;
  const int n_threads = std::max(2, opt.http_threads);
  svr.new_task_queue = [n_threads] { return new httplib::ThreadPool(size_t(n_threads)); };
  svr.set_payload_max_length(opt.max_body);
  Router router(sched, tok, chat, chat_unavailable, metrics, opt);

  svr.set_logger([&](const httplib::Request& req, const httplib::Response& res) { metrics.request(route_label(req.path), res.status); });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    send(res, error_response(res.status));
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    ApiError e;
    e.status = 500;
    e.message = what;
    e.type = "server_error";
    send(res, error_response(e));
  });

  // Every route goes through the Router (server/router.h), which answers 404/405 itself.
  auto route = [&](const httplib::Request& req, httplib::Response& res) {
    HttpRequest q;
    q.method = req.method;
    q.path = req.path;
    for (const auto& [k, v] : req.headers) q.headers.emplace_back(k, v);
    q.body = req.body;
    HttpResponse r = router.handle(q);
    for (const auto& [k, v] : r.headers) res.set_header(k.c_str(), v);
    if (!r.stream) return send(res, r);
    res.status = r.status;
    res.set_chunked_content_provider(
        r.content_type,
        [stream = r.stream](size_t, httplib::DataSink& sink) {
          HttplibSink s(sink);
          return stream(s);
        },
        [end = r.stream_end](bool success) {
          if (end) end(success);
        });
  };
  const char* any = R"(/.*)";
  svr.Get(any, route);
  svr.Post(any, route);
  svr.Put(any, route);
  svr.Delete(any, route);

  // Armed before the listening line: from then on SIGTERM/SIGINT drain (common/stop_signals.h).
  const StopOnSignal stop;

  // cpp-httplib's own socket options add SO_REUSEPORT (a second server on the same port would
  // bind too and take half the connections); ours: SO_REUSEADDR only, and remember the socket.
  int listen_fd = -1;
  svr.set_socket_options([&listen_fd](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = fd;
  });
  int port = opt.port;
  if (port == 0) {
    port = svr.bind_to_any_port(opt.host);
    if (port < 0) fail("serve: cannot bind ", opt.host, " (an ephemeral port)");
  } else if (!svr.bind_to_port(opt.host, port)) {
    fail("serve: cannot bind ", opt.host, ":", port, " (in use, or not an address of this machine)");
  }
  // Debian's compiled cpp-httplib listens with a backlog of 5: a burst of clients overflows it
  // and the kernel drops their handshakes. listen() again on the bound socket raises it.
  if (listen_fd < 0 || ::listen(listen_fd, SOMAXCONN) != 0) fail("serve: cannot listen on ", opt.host, ":", port);
  if (opt.on_listening) opt.on_listening(port);

  std::atomic<bool> quit{false};
  std::thread watcher([&] {
    while (!quit && !stop.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    router.start_draining();
    // in-flight requests finish and are written; then the listener stops
    while (router.inflight() > 0 && !quit) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sched.drain();
    svr.stop();
  });
  svr.listen_after_bind();
  quit = true;
  watcher.join();
}

}  // namespace sb::serve
