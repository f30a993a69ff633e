#include "harness/loadgen.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "engine/core/error.h"
#include "evals/http_client.h"
#include "evals/jsonl.h"
#include "evals/openai_api.h"
#include "evals/suite.h"

namespace sb::cli {
namespace {

using Clock = std::chrono::steady_clock;
double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double pct(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * double(sorted.size() - 1);
  const size_t lo = size_t(pos), hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

std::string fmt_rate(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", r);
  return buf;
}

// About one token per word for a llama-style tokenizer: short common words with a leading space.
const char* const kWords[] = {"the",  "cat",  "sat",  "on",     "a",      "mat",   "and", "dog",  "ran",  "to",   "big", "red",
                              "ball", "in",   "park", "she",    "was",    "happy", "he",  "saw",  "bird", "tree", "sun", "day",
                              "play", "with", "her",  "friend", "little", "girl",  "boy", "went", "home", "it",   "is",  "fun"};

std::vector<std::string> load_prompts(const LoadgenOptions& o) {
  std::vector<std::string> out;
  if (o.prompts == "random") {
    std::mt19937_64 rng(o.seed ^ 0x5eed);
    for (int p = 0; p < 64; ++p) {
      std::string s = "Once upon a time";
      for (int i = 4; i < o.input_len; ++i) s += std::string(" ") + kWords[rng() % (sizeof kWords / sizeof *kWords)];
      out.push_back(s);
    }
    return out;
  }
  const std::string& src = o.prompts;
  const bool is_file = src.size() > 4 && (src.rfind(".txt") == src.size() - 4 || src.rfind(".jsonl") == src.size() - 6);
  if (is_file && src.rfind(".jsonl") == src.size() - 6) {
    for (const auto& r : read_jsonl(src)) {
      if (r.value.contains("prompt") && r.value["prompt"].is_string())
        out.push_back(r.value["prompt"]);
      else if (r.value.contains("text") && r.value["text"].is_string())
        out.push_back(r.value["text"]);
      else
        fail(src, ":", r.line, ": no \"prompt\" or \"text\" string field");
    }
  } else if (is_file) {
    std::ifstream f(src);
    if (!f) fail(src, ": cannot open the prompts file");
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) out.push_back(line);
  } else {
    const Suite s = load_suite(src);
    const std::string tmpl = s.get<std::string>("prompt_template", "");
    for (const auto& r : s.items) {
      std::string p;
      if (!tmpl.empty()) {
        try {
          p = fill_template(tmpl, r.value, s.data_path + ":" + std::to_string(r.line));
        } catch (const Error&) {
        }
      }
      for (const char* f : {"prompt", "text", "context"})
        if (p.empty() && r.value.contains(f) && r.value[f].is_string()) p = r.value[f];
      if (!p.empty()) out.push_back(p);
    }
  }
  if (out.empty()) fail(src, ": no prompts");
  return out;
}

struct Job {
  const ApiClient& api;
  const LoadgenOptions& o;
  const std::string& model;
};

RequestResult one_request(const Job& j, const std::string& prompt) {
  RequestResult r;
  nlohmann::json body{{"model", j.model}, {"max_tokens", j.o.output_len}, {"temperature", 0}};
  if (j.o.chat)
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
  else
    body["prompt"] = prompt;
  if (j.o.ignore_eos) body["ignore_eos"] = true;
  try {
    const StreamedCompletion s = stream_completion(j.api, body, j.o.chat);
    r.e2e_ms = ms(s.done - s.sent);
    if (s.chunks.empty() && s.completion_tokens.value_or(0) > 0) fail("the stream carried tokens but no text");
    r.usage = s.completion_tokens.has_value();
    r.output_tokens = s.completion_tokens.value_or(int64_t(s.chunks.size()));
    r.prompt_tokens = s.prompt_tokens.value_or(0);
    if (!s.chunks.empty()) {
      r.ttft_ms = ms(s.chunks.front() - s.sent);
      for (size_t i = 1; i < s.chunks.size(); ++i) r.itl_ms.push_back(ms(s.chunks[i] - s.chunks[i - 1]));
      if (r.output_tokens >= 2) r.tpot_ms = ms(s.done - s.chunks.front()) / double(r.output_tokens - 1);
    } else {
      r.ttft_ms = r.e2e_ms;
    }
    r.ok = true;
  } catch (const Error& e) {
    r.error = e.what();
  }
  return r;
}

// A counting cap on requests in flight (0 = none).
class Slots {
 public:
  explicit Slots(int n) : free_(n), capped_(n > 0) {}
  void acquire() {
    if (!capped_) return;
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return free_ > 0; });
    --free_;
  }
  void release() {
    if (!capped_) return;
    std::lock_guard<std::mutex> l(m_);
    ++free_;
    cv_.notify_one();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int free_;
  bool capped_;
};

LoadPoint run_point(const Job& j, const std::vector<std::string>& prompts, const std::string& scenario, double rate,
                    const std::string& test) {
  const LoadgenOptions& o = j.o;
  const int64_t n_req = o.requests > 0 ? o.requests : (o.duration_s > 0 ? int64_t(1) << 40 : 64);
  std::mt19937_64 rng(o.seed);
  std::vector<size_t> order(prompts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::exponential_distribution<double> gap(rate > 0 ? rate : 1.0);
  const int cap = scenario == "single-stream" ? 1 : o.concurrency;
  Slots slots(cap);
  std::mutex mu;
  std::vector<RequestResult> results;
  std::atomic<int64_t> done{0}, errs{0}, toks{0};
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  auto deadline_passed = [&] { return o.duration_s > 0 && std::chrono::duration<double>(Clock::now() - t0).count() >= o.duration_s; };
  std::atomic<bool> dispatching{true};
  std::thread progress;
  if (o.progress) {
    progress = std::thread([&] {
      while (dispatching) {
        const double el = std::chrono::duration<double>(Clock::now() - t0).count();
        std::fprintf(stderr, "\r[loadgen %s] %lld done, %lld errors, %.1f output tok/s   ", test.c_str(), (long long)done.load(),
                     (long long)errs.load(), el > 0 ? double(toks.load()) / el : 0.0);
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
      std::fprintf(stderr, "\n");
    });
  }
  double next_arrival = 0;
  int64_t issued = 0;
  for (; issued < n_req; ++issued) {
    if (scenario == "server") {
      next_arrival += gap(rng);
      std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(next_arrival)));
    }
    if (deadline_passed()) break;
    slots.acquire();
    if (deadline_passed()) {
      slots.release();
      break;
    }
    const std::string& prompt = prompts[order[size_t(issued) % order.size()]];
    threads.emplace_back([&, prompt] {
      RequestResult r = one_request(j, prompt);
      slots.release();
      if (!r.ok) ++errs;
      toks += r.output_tokens;
      std::lock_guard<std::mutex> l(mu);
      results.push_back(std::move(r));
      ++done;
    });
  }
  for (auto& t : threads) t.join();
  dispatching = false;
  if (progress.joinable()) progress.join();

  LoadPoint p;
  p.test = test;
  p.scenario = scenario;
  p.rate = scenario == "server" ? rate : 0;
  p.concurrency = cap;
  p.issued = issued;
  p.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> ttft, tpot, itl, e2e, out_toks, in_toks;
  int64_t good = 0, with_usage = 0, total_out = 0;
  for (const auto& r : results) {
    if (!r.ok) {
      ++p.errors;
      if (p.first_error.empty()) p.first_error = r.error;
      continue;
    }
    ++p.ok;
    ttft.push_back(r.ttft_ms);
    if (r.tpot_ms) tpot.push_back(*r.tpot_ms);
    itl.insert(itl.end(), r.itl_ms.begin(), r.itl_ms.end());
    e2e.push_back(r.e2e_ms);
    out_toks.push_back(double(r.output_tokens));
    in_toks.push_back(double(r.prompt_tokens));
    total_out += r.output_tokens;
    with_usage += r.usage;
    p.per_request_ts.push_back(r.e2e_ms > 0 ? double(r.output_tokens) / (r.e2e_ms / 1000.0) : 0.0);
    p.e2e_ns.push_back(r.e2e_ms * 1e6);
    const bool ttft_ok = !o.slo_ttft_ms || r.ttft_ms <= *o.slo_ttft_ms;
    const bool tpot_ok = !o.slo_tpot_ms || !r.tpot_ms || *r.tpot_ms <= *o.slo_tpot_ms;
    good += ttft_ok && tpot_ok;
  }
  p.ttft = summarize(ttft);
  p.tpot = summarize(tpot);
  p.itl = summarize(itl);
  p.e2e = summarize(e2e);
  p.output_tokens = summarize(out_toks);
  p.prompt_tokens = summarize(in_toks);
  p.token_source = with_usage == p.ok ? "usage" : with_usage == 0 ? "chunks" : "mixed";
  if (p.wall_s > 0) {
    p.request_throughput = double(p.ok) / p.wall_s;
    p.output_throughput = double(total_out) / p.wall_s;
    if (o.slo_ttft_ms || o.slo_tpot_ms) {
      p.goodput = double(good) / p.wall_s;
      p.goodput_fraction = p.issued ? double(good) / double(p.issued) : 0.0;
    }
  }
  return p;
}

nlohmann::json pj(const Percentiles& p) { return {{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"n", p.n}}; }

std::string scenario_of(const LoadgenOptions& o) {
  std::string s = o.scenario.empty() ? (o.rates.empty() ? "offline" : "server") : o.scenario;
  if (s != "server" && s != "offline" && s != "single-stream")
    fail("loadgen: --scenario must be server, offline or single-stream (got '", s, "')");
  return s;
}

}  // namespace

Percentiles summarize(std::vector<double> v) {
  Percentiles p;
  p.n = int64_t(v.size());
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  double s = 0;
  for (double x : v) s += x;
  p.mean = s / double(v.size());
  p.p50 = pct(v, 0.50);
  p.p90 = pct(v, 0.90);
  p.p99 = pct(v, 0.99);
  return p;
}

nlohmann::json LoadPoint::to_json() const {
  nlohmann::json j{{"test", test},
                   {"scenario", scenario},
                   {"issued", issued},
                   {"ok", ok},
                   {"errors", errors},
                   {"wall_s", wall_s},
                   {"request_throughput", request_throughput},
                   {"output_throughput", output_throughput},
                   {"ttft_ms", pj(ttft)},
                   {"tpot_ms", pj(tpot)},
                   {"itl_ms", pj(itl)},
                   {"e2e_ms", pj(e2e)},
                   {"output_tokens", pj(output_tokens)},
                   {"prompt_tokens", pj(prompt_tokens)},
                   {"token_source", token_source}};
  if (scenario == "server") j["rate"] = rate;
  if (concurrency > 0) j["concurrency"] = concurrency;
  if (goodput) j["goodput"] = *goodput;
  if (goodput_fraction) j["goodput_fraction"] = *goodput_fraction;
  if (!first_error.empty()) j["first_error"] = first_error;
  return j;
}

std::vector<std::string> planned_tests(const LoadgenOptions& o) {
  const std::string sc = scenario_of(o);
  const int cap = sc == "single-stream" ? 1 : o.concurrency;
  const std::string suffix = cap > 0 && sc != "single-stream" ? "/c" + std::to_string(cap) : "";
  std::vector<std::string> out;
  if (sc == "server") {
    for (double r : o.rates) out.push_back("server@" + fmt_rate(r) + "rps" + suffix);
  } else {
    out.push_back(sc + suffix);
  }
  return out;
}

std::vector<LoadPoint> run_loadgen(const LoadgenOptions& o, std::string* model_used,
                                   const std::function<void(const LoadPoint&)>& on_point) {
  const std::string sc = scenario_of(o);
  if (sc == "server" && o.rates.empty()) fail("loadgen: the server scenario needs --rate R[,R2,...]");
  if (sc != "server" && !o.rates.empty()) fail("loadgen: --rate is for the server scenario (got --scenario ", sc, ")");
  for (double r : o.rates)
    if (!(r > 0) || !std::isfinite(r)) fail("loadgen: --rate values must be positive (got ", r, ")");
  if (o.concurrency < 0) fail("loadgen: --concurrency must be >= 0");
  if (o.requests < 0) fail("loadgen: --requests must be >= 0");
  if (o.input_len < 1 || o.output_len < 1) fail("loadgen: --input-len and --output-len must be >= 1");
  const std::vector<std::string> prompts = load_prompts(o);
  // Few retries: a load test reports failures rather than hiding them behind long backoff.
  const ApiClient api(o.url, api_key_from_env(o.api_key_env), RetryPolicy{2, 0.2, 1.0});
  std::string model = o.model;
  const nlohmann::json models = api.get_json("/models");  // also: is the server there at all?
  if (model.empty()) {
    if (!models.contains("data") || !models["data"].is_array() || models["data"].empty() || !models["data"][0].contains("id"))
      fail(api.url("/models"), ": no model listed; pass --model NAME");
    model = models["data"][0]["id"].get<std::string>();
  }
  if (model_used) *model_used = model;
  const Job job{api, o, model};
  const auto tests = planned_tests(o);
  std::vector<LoadPoint> out;
  for (size_t i = 0; i < tests.size(); ++i) {
    out.push_back(run_point(job, prompts, sc, sc == "server" ? o.rates[i] : 0.0, tests[i]));
    if (on_point) on_point(out.back());
  }
  return out;
}

}  // namespace sb::cli
