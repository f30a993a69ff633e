#include "server/router.h"

#include <strings.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/chat_template.h"

namespace sb::serve {

using nlohmann::json;

std::string HttpRequest::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && ::strncasecmp(k.c_str(), name.c_str(), k.size()) == 0) return v;
  return "";
}

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

ApiError error(int status, std::string msg, std::string type = "invalid_request_error", std::string code = "") {
  ApiError e;
  e.status = status;
  e.message = std::move(msg);
  e.type = std::move(type);
  e.code = std::move(code);
  return e;
}

HttpResponse json_response(const json& j) {
  HttpResponse r;
  r.body = dump(j);
  return r;
}

// One completion request on its way through the scheduler.
struct Exchange {
  Exchange(ParsedRequest r, const Tokenizer& tok, std::string id, const std::string& model, std::atomic<int>& inflight)
      : req(std::move(r)),
        job(std::make_shared<Job>(req.seqs)),
        rb(req, tok, std::move(id), model, int64_t(std::time(nullptr))),
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

// Writes the server-sent events of a streamed completion.
bool write_stream(Exchange& ex, StreamSink& sink) {
  auto send = [&](const std::string& s) { return sink.write(s); };
  Event ev;
  while (!ex.rb.done()) {
    if (!ex.job->next(ev, std::chrono::milliseconds(200))) {
      if (!sink.writable()) {
        ex.job->cancel();
        return false;
      }
      continue;
    }
    if (!ev.error.empty()) {
      send("data: " + dump(event_error(ev).body()) + "\n\n");
      ex.job->cancel();
      send("data: [DONE]\n\n");
      sink.done();
      return true;
    }
    for (const json& ch : ex.rb.add(ev))
      if (!send("data: " + dump(ch) + "\n\n")) {
        ex.job->cancel();
        return false;
      }
  }
  if (ex.req.include_usage && !send("data: " + dump(ex.rb.usage_chunk()) + "\n\n")) return false;
  if (!send("data: [DONE]\n\n")) return false;
  sink.done();
  return true;
}

}  // namespace

HttpResponse error_response(const ApiError& e) {
  HttpResponse r;
  r.status = e.status;
  r.body = dump(e.body());
  return r;
}

HttpResponse error_response(int status) {
  if (status == 413) return error_response(error(413, "the request body is too large", "invalid_request_error", "body_too_large"));
  if (status == 404) return error_response(error(404, "no such route", "invalid_request_error", "not_found"));
  if (status == 405) return error_response(error(405, "method not allowed", "invalid_request_error", "method_not_allowed"));
  if (status >= 500) return error_response(error(status, "internal server error", "server_error"));
  return error_response(error(status, "bad request"));
}

Router::Router(Scheduler& sched, const Tokenizer& tok, ChatTemplate* chat, std::string chat_unavailable, Metrics& metrics,
               const ServerOptions& opt)
    : sched_(sched), tok_(tok), chat_(chat), chat_unavailable_(std::move(chat_unavailable)), metrics_(metrics), opt_(opt) {}

bool Router::authorized(const HttpRequest& req, HttpResponse& res) const {
  if (opt_.api_key.empty()) return true;
  const std::string h = req.header("Authorization");
  const std::string prefix = "Bearer ";
  const std::string given = h.compare(0, prefix.size(), prefix) == 0 ? h.substr(prefix.size()) : std::string();
  if (keys_equal(given, opt_.api_key)) return true;
  res = error_response(error(401, "missing or wrong API key (Authorization: Bearer <key>)", "invalid_request_error", "invalid_api_key"));
  return false;
}

HttpResponse Router::completion(const HttpRequest& req, bool is_chat) {
  HttpResponse res;
  if (!authorized(req, res)) return res;
  if (draining_) return error_response(error(503, "the server is shutting down", "server_error"));
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception& e) {
    return error_response(error(400, std::string("the body is not valid JSON: ") + e.what()));
  }
  ParsedRequest pr;
  try {
    if (is_chat) {
      pr = parse_chat(body, tok_, sched_.n_ctx(), [&](const std::vector<std::pair<std::string, std::string>>& msgs) {
        if (!chat_) throw error(400, chat_unavailable_, "invalid_request_error", "no_chat_template");
        std::vector<ChatMessage> m;
        for (const auto& [role, content] : msgs) m.push_back({role, content});
        std::lock_guard<std::mutex> l(chat_mu_);
        try {
          return chat_->render(m, true);
        } catch (const Error& e) {
          throw error(400, std::string("chat template: ") + e.what());
        }
      });
    } else {
      pr = parse_completion(body, tok_, sched_.n_ctx());
    }
  } catch (const ApiError& e) {
    return error_response(e);
  } catch (const Error& e) {
    return error_response(error(400, e.what()));
  }
  char idbuf[32];
  std::snprintf(idbuf, sizeof idbuf, "%s-%llx", is_chat ? "chatcmpl" : "cmpl", static_cast<unsigned long long>(next_id_.fetch_add(1)));
  auto ex = std::make_shared<Exchange>(std::move(pr), tok_, idbuf, opt_.model_name, inflight_);
  sched_.submit(ex->job);
  if (!ex->req.stream) {
    Event ev;
    while (!ex->rb.done()) {
      if (!ex->job->next(ev, std::chrono::milliseconds(200))) continue;
      if (!ev.error.empty()) return error_response(event_error(ev));
      ex->rb.add(ev);
    }
    return json_response(ex->rb.final_response());
  }
  res.content_type = "text/event-stream";
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.stream = [ex](StreamSink& sink) { return write_stream(*ex, sink); };
  res.stream_end = [ex](bool success) {
    if (!success) ex->job->cancel();
  };
  return res;
}

HttpResponse Router::handle(const HttpRequest& req) {
  const std::string& p = req.path;
  const bool is_completion = p == "/v1/completions" || p == "/v1/chat/completions";
  const bool is_get = p == "/v1/models" || p == "/health" || p == "/metrics";
  if (!is_completion && !is_get) return error_response(404);
  // HEAD is answered as GET (cpp-httplib drops the body)
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (is_completion ? req.method != "POST" : !get) return error_response(405);
  if (is_completion) return completion(req, p == "/v1/chat/completions");
  HttpResponse r;
  if (p == "/health") {
    if (draining_) {
      r.status = 503;
      r.body = R"({"status":"draining"})";
    } else {
      r.body = R"({"status":"ok"})";
    }
    return r;
  }
  if (!authorized(req, r)) return r;
  if (p == "/v1/models") {
    json m = {{"object", "list"},
              {"data", json::array({{{"id", opt_.model_name},
                                     {"object", "model"},
                                     {"created", 0},
                                     {"owned_by", "sparkbench"},
                                     {"max_model_len", sched_.n_ctx()}}})}};
    return json_response(m);
  }
  r.body = metrics_.render();
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

}  // namespace sb::serve
