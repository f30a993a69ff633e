#include "harness/sample_rows.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "engine/core/error.h"
#include "engine/core/sha256.h"

namespace sb::cli {

SampleRow to_row(const std::string& task, const ItemResult& r) {
  SampleRow s;
  s.task = task;
  s.sample_id = r.sample_id;
  s.prompt_hash = sha256_hex(r.prompt);
  s.prompt = r.prompt;
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
  r.prompt = s.prompt;
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

void sort_by_item(std::vector<ItemResult>& rows, const Suite& suite) {
  std::unordered_map<std::string, size_t> pos;
  for (size_t i = 0; i < suite.items.size(); ++i) pos.emplace(suite.item_id(i), i);
  auto where = [&](const ItemResult& r) {
    auto it = pos.find(r.item_id);
    return it == pos.end() ? suite.items.size() : it->second;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const ItemResult& a, const ItemResult& b) { return where(a) < where(b); });
}

namespace {
nlohmann::json opt_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
std::optional<double> json_opt(const nlohmann::json& v) {
  if (v.is_null()) return std::nullopt;
  return v.get<double>();
}
}  // namespace

// A generated output can hold any bytes, and JSON text must be UTF-8: an output that is not
// valid UTF-8 (rare) travels hex-encoded under "output_hex", so it arrives byte for byte. A NaN
// score travels as null.
nlohmann::json row_to_json(const SampleRow& s) {
  nlohmann::json j{{"task", s.task},
                   {"sample_id", s.sample_id},
                   {"prompt_hash", s.prompt_hash},
                   {"prompt", s.prompt},
                   {"score", s.score},
                   {"outcome", s.outcome},
                   {"ttft_ms", opt_json(s.ttft_ms)},
                   {"tpot_ms", opt_json(s.tpot_ms)},
                   {"latency_ms", opt_json(s.latency_ms)},
                   {"n_prompt_tokens", s.n_prompt_tokens},
                   {"n_gen_tokens", s.n_gen_tokens},
                   {"extra_json", s.extra_json}};
  try {
    (void)nlohmann::json(s.output).dump();
    j["output"] = s.output;
  } catch (const nlohmann::json::exception&) {
    static const char* hex = "0123456789abcdef";
    std::string h;
    for (unsigned char c : s.output) {
      h += hex[c >> 4];
      h += hex[c & 15];
    }
    j["output_hex"] = h;
  }
  return j;
}

SampleRow row_from_json(const nlohmann::json& j) {
  try {
    SampleRow s;
    s.task = j.at("task").get<std::string>();
    s.sample_id = j.at("sample_id").get<std::string>();
    s.prompt_hash = j.at("prompt_hash").get<std::string>();
    s.prompt = j.at("prompt").get<std::string>();
    if (j.contains("output_hex")) {
      const std::string h = j.at("output_hex").get<std::string>();
      auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
      for (size_t i = 0; i + 1 < h.size(); i += 2) s.output += char(nib(h[i]) << 4 | nib(h[i + 1]));
    } else {
      s.output = j.at("output").get<std::string>();
    }
    s.score = j.at("score").is_null() ? std::numeric_limits<double>::quiet_NaN() : j.at("score").get<double>();
    s.outcome = j.at("outcome").get<std::string>();
    s.ttft_ms = json_opt(j.at("ttft_ms"));
    s.tpot_ms = json_opt(j.at("tpot_ms"));
    s.latency_ms = json_opt(j.at("latency_ms"));
    s.n_prompt_tokens = j.at("n_prompt_tokens").get<int64_t>();
    s.n_gen_tokens = j.at("n_gen_tokens").get<int64_t>();
    s.extra_json = j.at("extra_json").get<std::string>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    fail("malformed sample row message: ", e.what());
  }
}

}  // namespace sb::cli
