#include "evals/openai_api.h"

namespace sb {

StreamedCompletion stream_completion(const ApiClient& api, nlohmann::json body, bool chat) {
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  const std::string path = chat ? "/chat/completions" : "/completions";
  StreamedCompletion out;
  int64_t n = 0;
  out.sent = ApiClient::Clock::now();
  api.post_stream(path, body, [&](const std::string& data, ApiClient::Clock::time_point arrived) {
    ++n;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(data);
    } catch (const nlohmann::json::exception&) {
      fail(api.url(path), ": stream event ", n, " is not JSON: '", data.substr(0, 80), "'");
    }
    if (!j.is_object()) fail(api.url(path), ": stream event ", n, " is not a JSON object");
    if (j.contains("error")) {
      const auto& e = j["error"];
      fail(api.url(path), ": the server reported an error in stream event ", n, ": ",
           e.is_object() && e.contains("message") ? e["message"].dump() : e.dump());
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const auto& u = j["usage"];
      if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer()) out.prompt_tokens = u["prompt_tokens"].get<int64_t>();
      if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
        out.completion_tokens = u["completion_tokens"].get<int64_t>();
    }
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;  // e.g. the usage event
    const auto& c = j["choices"][0];
    if (!c.is_object()) fail(api.url(path), ": stream event ", n, ": choices[0] is not an object");
    const nlohmann::json* text = nullptr;
    if (chat) {
      if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content")) text = &c["delta"]["content"];
    } else if (c.contains("text")) {
      text = &c["text"];
    }
    if (text && !text->is_null()) {
      if (!text->is_string()) fail(api.url(path), ": stream event ", n, ": the text is not a string");
      const std::string& t = text->get_ref<const std::string&>();
      if (!t.empty()) {
        out.text += t;
        out.chunks.push_back(arrived);
      }
    }
    if (c.contains("finish_reason") && c["finish_reason"].is_string()) out.finish_reason = c["finish_reason"].get<std::string>();
  });
  out.done = ApiClient::Clock::now();
  return out;
}

std::vector<EchoToken> read_echo_logprobs(const nlohmann::json& answer, size_t prompt_bytes, const std::string& where) {
  auto missing = [&](const char* what) -> MissingPromptLogprobs {
    return MissingPromptLogprobs(
        cat(where, ": the server returned no prompt log-probs (", what, ") for a request with echo=true, logprobs=1, max_tokens=0"));
  };
  if (!answer.is_object() || !answer.contains("choices") || !answer["choices"].is_array() || answer["choices"].empty())
    fail(where, ": the answer has no choices");
  const auto& c = answer["choices"][0];
  if (!c.is_object() || !c.contains("logprobs") || !c["logprobs"].is_object()) throw missing("no choices[0].logprobs");
  const auto& lp = c["logprobs"];
  for (const char* f : {"tokens", "token_logprobs", "text_offset"})
    if (!lp.contains(f) || !lp[f].is_array()) throw missing(f);
  const auto& toks = lp["tokens"];
  const auto& lps = lp["token_logprobs"];
  const auto& offs = lp["text_offset"];
  const nlohmann::json* tops = lp.contains("top_logprobs") && lp["top_logprobs"].is_array() ? &lp["top_logprobs"] : nullptr;
  if (toks.size() != lps.size() || toks.size() != offs.size() || (tops && tops->size() != toks.size()))
    fail(where, ": logprobs arrays of different lengths (tokens ", toks.size(), ", token_logprobs ", lps.size(), ", text_offset ",
         offs.size(), ")");
  std::vector<EchoToken> out;
  for (size_t i = 0; i < toks.size(); ++i) {
    if (!offs[i].is_number_integer()) fail(where, ": text_offset[", i, "] is not an integer");
    EchoToken t;
    t.offset = offs[i].get<int64_t>();
    if (t.offset < 0 || size_t(t.offset) >= prompt_bytes) break;  // generated tokens (or a bad offset) end the prompt
    if (!toks[i].is_string()) fail(where, ": tokens[", i, "] is not a string");
    t.text = toks[i].get<std::string>();
    if (lps[i].is_number())
      t.logprob = lps[i].get<double>();
    else if (!lps[i].is_null())
      fail(where, ": token_logprobs[", i, "] is not a number");
    if (tops && (*tops)[i].is_object() && !(*tops)[i].empty()) {
      for (auto it = (*tops)[i].begin(); it != (*tops)[i].end(); ++it) {
        if (!it.value().is_number()) continue;
        const double v = it.value().get<double>();
        if (!t.top_logprob || v > *t.top_logprob) t.top_logprob = v, t.top_token = it.key();
      }
    }
    out.push_back(std::move(t));
  }
  bool any = false;
  for (const auto& t : out) any |= t.logprob.has_value();
  if (out.size() > 1 && !any) throw missing("every token_logprobs entry is null");
  return out;
}

}  // namespace sb
