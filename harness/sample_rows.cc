#include "harness/sample_rows.h"

#include <nlohmann/json.hpp>

#include "engine/core/sha256.h"

namespace sb::cli {

SampleRow to_row(const std::string& task, const ItemResult& r) {
  SampleRow s;
  s.task = task;
  s.sample_id = r.sample_id;
  s.prompt_hash = sha256_hex(r.prompt);
  s.output = r.output;
  s.score = r.score;
  s.outcome = r.outcome;
  s.ttft_ms = r.ttft_ms;
  s.tpot_ms = r.tpot_ms;
  s.latency_ms = r.latency_ms;
  s.n_prompt_tokens = r.n_prompt_tokens;
  s.n_gen_tokens = r.n_gen_tokens;
  nlohmann::json extra = r.extra;
  extra["item_id"] = r.item_id;
  s.extra_json = extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s;
}

ItemResult from_row(const SampleRow& s) {
  ItemResult r;
  r.sample_id = s.sample_id;
  r.output = s.output;
  r.score = s.score;
  r.outcome = s.outcome;
  r.ttft_ms = s.ttft_ms;
  r.tpot_ms = s.tpot_ms;
  r.latency_ms = s.latency_ms;
  r.n_prompt_tokens = s.n_prompt_tokens;
  r.n_gen_tokens = s.n_gen_tokens;
  r.extra = s.extra_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(s.extra_json);
  r.item_id = r.extra.value("item_id", s.sample_id);
  return r;
}

}  // namespace sb::cli
