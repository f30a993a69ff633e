#include "server/http_server.h"

#include <arpa/inet.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/sha256.h"
#include "evals/chat_template.h"
#include "server/api.h"

namespace sb::serve {

using nlohmann::json;

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

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump(e.body()), "application/json");
}

ApiError error(int status, std::string msg, std::string type = "invalid_request_error", std::string code = "") {
  ApiError e;
  e.status = status;
  e.message = std::move(msg);
  e.type = std::move(type);
  e.code = std::move(code);
  return e;
}

const char* route_label(const std::string& path) {
  for (const char* p : {"/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics"})
    if (path == p) return p;
  return "other";
}

// One completion request on its way through the scheduler.
struct Exchange {
  Exchange(ParsedRequest r, const Tokenizer& tok, std::string id, const std::string& model, std::atomic<int>& inflight)
      : req(std::move(r)), job(std::make_shared<Job>(req.seqs)), rb(req, tok, std::move(id), model, int64_t(std::time(nullptr))),
        inflight_(inflight) {
    ++inflight_;
  }
  ~Exchange() {
    job->cancel();  // no-op when finished; frees the slots of a request abandoned midway
    --inflight_;
  }
  ParsedRequest req;
  std::shared_ptr<Job> job;
  ResponseBuilder rb;

 private:
  std::atomic<int>& inflight_;
};

ApiError event_error(const Event& ev) {
  if (ev.error.find("shutting down") != std::string::npos) return error(503, ev.error, "server_error");
  return error(500, ev.error, "server_error");
}

}  // namespace

void run_server(Scheduler& sched, const Tokenizer& tok, ChatTemplate* chat, const std::string& chat_unavailable,
                Metrics& metrics, const ServerOptions& opt) {
  if (!is_loopback(opt.host) && opt.api_key.empty())
    fail("serve: binding to ", opt.host, " (not a loopback address) needs --api-key-file");
  httplib::Server svr;
  const int n_threads = std::max(2, opt.http_threads);
  svr.new_task_queue = [n_threads] { return new httplib::ThreadPool(size_t(n_threads)); };
  svr.set_payload_max_length(opt.max_body);
  std::atomic<bool> draining{false};
  std::atomic<int> inflight{0};
  std::atomic<uint64_t> next_id{1};
  std::mutex chat_mu;

  svr.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    metrics.request(route_label(req.path), res.status);
  });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) send_error(res, error(413, "the request body is too large", "invalid_request_error", "body_too_large"));
    else if (res.status == 404) send_error(res, error(404, "no such route", "invalid_request_error", "not_found"));
    else if (res.status == 405) send_error(res, error(405, "method not allowed", "invalid_request_error", "method_not_allowed"));
    else if (res.status >= 500) send_error(res, error(res.status, "internal server error", "server_error"));
    else send_error(res, error(res.status, "bad request"));
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, error(500, what, "server_error"));
  });

  auto authorized = [&](const httplib::Request& req, httplib::Response& res) {
    if (opt.api_key.empty()) return true;
    const std::string h = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    const std::string given = h.compare(0, prefix.size(), prefix) == 0 ? h.substr(prefix.size()) : std::string();
    if (keys_equal(given, opt.api_key)) return true;
    send_error(res, error(401, "missing or wrong API key (Authorization: Bearer <key>)", "invalid_request_error",
                          "invalid_api_key"));
    return false;
  };

  auto completion = [&](const httplib::Request& req, httplib::Response& res, bool is_chat) {
    if (!authorized(req, res)) return;
    if (draining) return send_error(res, error(503, "the server is shutting down", "server_error"));
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::exception& e) {
      return send_error(res, error(400, std::string("the body is not valid JSON: ") + e.what()));
    }
    ParsedRequest pr;
    try {
      if (is_chat) {
        pr = parse_chat(body, tok, sched.n_ctx(), [&](const std::vector<std::pair<std::string, std::string>>& msgs) {
          if (!chat) throw error(400, chat_unavailable, "invalid_request_error", "no_chat_template");
          std::vector<ChatMessage> m;
          for (const auto& [role, content] : msgs) m.push_back({role, content});
          std::lock_guard<std::mutex> l(chat_mu);
          try {
            return chat->render(m, true);
          } catch (const Error& e) {
            throw error(400, std::string("chat template: ") + e.what());
          }
        });
      } else {
        pr = parse_completion(body, tok, sched.n_ctx());
      }
    } catch (const ApiError& e) {
      return send_error(res, e);
    } catch (const Error& e) {
      return send_error(res, error(400, e.what()));
    }
    char idbuf[32];
    std::snprintf(idbuf, sizeof idbuf, "%s-%llx", is_chat ? "chatcmpl" : "cmpl",
                  static_cast<unsigned long long>(next_id.fetch_add(1)));
    auto ex = std::make_shared<Exchange>(std::move(pr), tok, idbuf, opt.model_name, inflight);
    sched.submit(ex->job);
    if (!ex->req.stream) {
      Event ev;
      while (!ex->rb.done()) {
        if (!ex->job->next(ev, std::chrono::milliseconds(200))) continue;
        if (!ev.error.empty()) return send_error(res, event_error(ev));
        ex->rb.add(ev);
      }
      res.set_content(dump(ex->rb.final_response()), "application/json");
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [ex](size_t, httplib::DataSink& sink) {
          auto send = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
          Event ev;
          while (!ex->rb.done()) {
            if (!ex->job->next(ev, std::chrono::milliseconds(200))) {
              if (!sink.is_writable()) {
                ex->job->cancel();
                return false;
              }
              continue;
            }
            if (!ev.error.empty()) {
              send("data: " + dump(event_error(ev).body()) + "\n\n");
              ex->job->cancel();
              send("data: [DONE]\n\n");
              sink.done();
              return true;
            }
            for (const json& ch : ex->rb.add(ev))
              if (!send("data: " + dump(ch) + "\n\n")) {
                ex->job->cancel();
                return false;
              }
          }
          if (ex->req.include_usage && !send("data: " + dump(ex->rb.usage_chunk()) + "\n\n")) return false;
          if (!send("data: [DONE]\n\n")) return false;
          sink.done();
          return true;
        },
        [ex](bool success) {
          if (!success) ex->job->cancel();
        });
  };

  svr.Post("/v1/completions", [&](const httplib::Request& q, httplib::Response& r) { completion(q, r, false); });
  svr.Post("/v1/chat/completions", [&](const httplib::Request& q, httplib::Response& r) { completion(q, r, true); });
  svr.Get("/v1/models", [&](const httplib::Request& q, httplib::Response& r) {
    if (!authorized(q, r)) return;
    json m = {{"object", "list"},
              {"data", json::array({{{"id", opt.model_name}, {"object", "model"}, {"created", 0},
                                     {"owned_by", "sparkbench"}, {"max_model_len", sched.n_ctx()}}})}};
    r.set_content(dump(m), "application/json");
  });
  svr.Get("/health", [&](const httplib::Request&, httplib::Response& r) {
    if (draining) {
      r.status = 503;
      r.set_content(R"({"status":"draining"})", "application/json");
    } else {
      r.set_content(R"({"status":"ok"})", "application/json");
    }
  });
  svr.Get("/metrics", [&](const httplib::Request& q, httplib::Response& r) {
    if (!authorized(q, r)) return;
    r.set_content(metrics.render(), "text/plain; version=0.0.4");
  });
  auto not_allowed = [](const httplib::Request&, httplib::Response& r) {
    send_error(r, error(405, "method not allowed", "invalid_request_error", "method_not_allowed"));
  };
  for (const char* p : {"/v1/completions", "/v1/chat/completions"}) {
    svr.Get(p, not_allowed);
    svr.Put(p, not_allowed);
    svr.Delete(p, not_allowed);
  }
  for (const char* p : {"/v1/models", "/health", "/metrics"}) {
    svr.Post(p, not_allowed);
    svr.Put(p, not_allowed);
    svr.Delete(p, not_allowed);
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  int port = opt.port;
  if (port == 0) {
    port = svr.bind_to_any_port(opt.host);
    if (port < 0) fail("serve: cannot bind ", opt.host, " (an ephemeral port)");
  } else if (!svr.bind_to_port(opt.host, port)) {
    fail("serve: cannot bind ", opt.host, ":", port, " (in use, or not an address of this machine)");
  }
  if (opt.on_listening) opt.on_listening(port);

  std::atomic<bool> quit{false};
  std::thread watcher([&] {
    while (!quit) {
      timespec ts{0, 200 * 1000 * 1000};
      if (sigtimedwait(&sigs, nullptr, &ts) > 0) break;
    }
    draining = true;
    // in-flight requests finish and are written; then the listener stops
    while (inflight > 0 && !quit) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sched.drain();
    svr.stop();
  });
  svr.listen_after_bind();
  quit = true;
  watcher.join();
}

}  // namespace sb::serve
