#include "evals/cached_lm.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "engine/core/sha256.h"

namespace sb {
namespace {
std::string key_of(const std::string& identity, const nlohmann::json& req) { return sha256_hex(identity + '\0' + req.dump()); }
// JSON has no NaN or infinity (nlohmann writes them as null): a non-finite log-likelihood from a
// broken model is stored as the string "nan", "inf" or "-inf" and read back as that value.
nlohmann::json num_out(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}
double num_in(const nlohmann::json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    return std::numeric_limits<double>::quiet_NaN();
  }
  return j.get<double>();
}
}  // namespace

LLResult CachedLM::loglikelihood(const LLRequest& r) {
  nlohmann::json req{{"type", "loglikelihood"}, {"context", r.context}, {"continuation", r.continuation}};
  if (r.chat) req["chat"] = true;  // (absent for plain requests: keys of older caches stay valid)
  const std::string key = key_of(identity(), req);
  if (auto v = cache_.get(key)) {
    auto j = nlohmann::json::parse(*v);
    ++hits_;
    return LLResult{num_in(j["logprob"]), j["is_greedy"], j["n_tokens"]};
  }
  ++misses_;
  LLResult out = inner_.loglikelihood(r);
  cache_.put(key, nlohmann::json{{"logprob", num_out(out.logprob)}, {"is_greedy", out.is_greedy}, {"n_tokens", out.n_tokens}}.dump());
  return out;
}

RollingResult CachedLM::loglikelihood_rolling(const std::string& text) {
  const std::string key = key_of(identity(), {{"type", "rolling"}, {"text", text}});
  if (auto v = cache_.get(key)) {
    auto j = nlohmann::json::parse(*v);
    ++hits_;
    return RollingResult{num_in(j["logprob"]), j["n_tokens"], j["n_bytes"]};
  }
  ++misses_;
  RollingResult out = inner_.loglikelihood_rolling(text);
  cache_.put(key, nlohmann::json{{"logprob", num_out(out.logprob)}, {"n_tokens", out.n_tokens}, {"n_bytes", out.n_bytes}}.dump());
  return out;
}

TokenLogprobs CachedLM::token_logprobs(const std::string& text) {
  const std::string key = key_of(identity(), {{"type", "token_logprobs"}, {"text", text}});
  if (auto v = cache_.get(key)) {
    auto j = nlohmann::json::parse(*v);
    ++hits_;
    TokenLogprobs out;
    for (const auto& x : j) out.logprob.push_back(num_in(x));
    return out;
  }
  ++misses_;
  TokenLogprobs out = inner_.token_logprobs(text);
  nlohmann::json j = nlohmann::json::array();
  for (double x : out.logprob) j.push_back(num_out(x));
  cache_.put(key, j.dump());
  return out;
}

GenResult CachedLM::generate(const GenRequest& r) {
  nlohmann::json req{{"type", "generate"},           {"prompt", r.prompt}, {"stop", r.stop},   {"max_tokens", r.max_tokens},
                     {"temperature", r.temperature}, {"top_p", r.top_p},   {"top_k", r.top_k}, {"seed", r.seed}};
  if (r.chat) req["chat"] = true;
  const std::string key = key_of(identity(), req);
  if (auto v = cache_.get(key)) {
    auto j = nlohmann::json::parse(*v);
    ++hits_;
    return GenResult{j["text"], j["stop_reason"], j["n_prompt_tokens"], j["n_gen_tokens"], j["ttft_ms"], j["tpot_ms"], j["total_ms"]};
  }
  ++misses_;
  GenResult out = inner_.generate(r);
  cache_.put(key, nlohmann::json{{"text", out.text},
                                 {"stop_reason", out.stop_reason},
                                 {"n_prompt_tokens", out.n_prompt_tokens},
                                 {"n_gen_tokens", out.n_gen_tokens},
                                 {"ttft_ms", out.ttft_ms},
                                 {"tpot_ms", out.tpot_ms},
                                 {"total_ms", out.total_ms}}
                      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return out;
}

}  // namespace sb
