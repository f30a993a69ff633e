#include "server/api.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>

namespace sb::serve {

using nlohmann::json;

json ApiError::body() const {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& msg) {
  ApiError e;
  e.message = msg;
  e.param = param;
  throw e;
}

bool present(const json& b, const char* k) { return b.contains(k) && !b.at(k).is_null(); }

double number(const json& b, const char* k, double def, double lo, double hi) {
  if (!present(b, k)) return def;
  const json& v = b.at(k);
  if (!v.is_number()) bad(k, std::string("'") + k + "' must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad(k, std::string("'") + k + "' must be between " + json(lo).dump() + " and " + json(hi).dump());
  return x;
}

int64_t integer(const json& b, const char* k, int64_t def, int64_t lo, int64_t hi) {
  if (!present(b, k)) return def;
  const json& v = b.at(k);
  if (!v.is_number_integer() &&
      !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 9e15))
    bad(k, std::string("'") + k + "' must be an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    bad(k, std::string("'") + k + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  const int64_t x = v.is_number_float() ? int64_t(v.get<double>()) : v.get<int64_t>();
  if (x < lo || x > hi) bad(k, std::string("'") + k + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return x;
}

bool boolean(const json& b, const char* k, bool def) {
  if (!present(b, k)) return def;
  if (!b.at(k).is_boolean()) bad(k, std::string("'") + k + "' must be a boolean");
  return b.at(k).get<bool>();
}

std::vector<std::string> stops(const json& b) {
  std::vector<std::string> out;
  if (!present(b, "stop")) return out;
  const json& v = b.at("stop");
  if (v.is_string())
    out.push_back(v.get<std::string>());
  else if (v.is_array()) {
    if (v.size() > size_t(kMaxStops)) bad("stop", "'stop' may hold at most " + std::to_string(kMaxStops) + " strings");
    for (const auto& s : v) {
      if (!s.is_string()) bad("stop", "'stop' must be a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    bad("stop", "'stop' must be a string or an array of strings");
  }
  for (const auto& s : out)
    if (s.empty() || s.size() > 1024) bad("stop", "stop strings must have 1 to 1024 bytes");
  return out;
}

uint64_t fresh_seed() {
  static std::atomic<uint64_t> counter{0};
  const uint64_t t = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  return t * 0x9e3779b97f4a7c15ull + counter.fetch_add(1);
}

// Fields shared by both endpoints: sampling, stop, n, stream.
void common(const json& b, ParsedRequest& r, SeqSpec& base) {
  if (present(b, "model") && !b.at("model").is_string()) bad("model", "'model' must be a string");
  if (present(b, "model")) r.model = b.at("model").get<std::string>();
  base.sampling.temperature = float(number(b, "temperature", 1.0, 0.0, 100.0));
  base.sampling.top_p = float(number(b, "top_p", 1.0, 0.0, 1.0));
  if (base.sampling.top_p <= 0.0f) bad("top_p", "'top_p' must be greater than 0");
  base.sampling.top_k = int(integer(b, "top_k", 0, -1, 1 << 30));
  if (base.sampling.top_k < 0) base.sampling.top_k = 0;
  base.sampling.min_p = float(number(b, "min_p", 0.0, 0.0, 1.0));
  base.sampling.repeat_penalty = float(number(b, "repetition_penalty", 1.0, 0.01, 100.0));
  for (const char* k : {"presence_penalty", "frequency_penalty"}) number(b, k, 0.0, -2.0, 2.0);
  const bool seeded = present(b, "seed");
  base.sampling.seed =
      seeded ? uint64_t(integer(b, "seed", 0, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) : fresh_seed();
  base.stop = stops(b);
  base.ignore_eos = boolean(b, "ignore_eos", false);
  r.n = int(integer(b, "n", 1, 1, kMaxChoices));
  r.stream = boolean(b, "stream", false);
  if (present(b, "stream_options")) {
    const json& so = b.at("stream_options");
    if (!so.is_object()) bad("stream_options", "'stream_options' must be an object");
    r.include_usage = boolean(so, "include_usage", false);
  }
}

void check_prompt(const std::vector<int32_t>& ids, const Tokenizer& tok, int64_t n_ctx, const char* param) {
  if (ids.empty()) bad(param, "the prompt has no tokens");
  if (int64_t(ids.size()) > n_ctx)
    bad(param, "the prompt has " + std::to_string(ids.size()) + " tokens, more than the context of " + std::to_string(n_ctx) + " tokens");
  for (int32_t id : ids)
    if (id < 0 || id >= tok.n_vocab())
      bad(param, "token id " + std::to_string(id) + " is out of range [0, " + std::to_string(tok.n_vocab()) + ")");
}

void expand(ParsedRequest& r, const SeqSpec& base, const std::vector<std::vector<int32_t>>& prompts, bool seeded_n) {
  if (int64_t(prompts.size()) * r.n > kMaxChoices)
    bad("n", "a request may ask for at most " + std::to_string(kMaxChoices) + " choices (prompts x n)");
  for (const auto& p : prompts) {
    r.prompt_tokens.push_back(int64_t(p.size()));
    for (int j = 0; j < r.n; ++j) {
      SeqSpec s = base;
      s.prompt = p;
      if (seeded_n) s.sampling.seed = base.sampling.seed + uint64_t(j);
      r.seqs.push_back(std::move(s));
    }
  }
}

}  // namespace

ParsedRequest parse_completion(const json& b, const Tokenizer& tok, int64_t n_ctx) {
  if (!b.is_object()) bad("", "the request body must be a JSON object");
  ParsedRequest r;
  SeqSpec base;
  common(b, r, base);
  base.max_tokens = int(integer(b, "max_tokens", 16, 0, n_ctx));
  r.echo = boolean(b, "echo", false);
  if (present(b, "logprobs")) {
    const json& v = b.at("logprobs");
    if (v.is_boolean())
      base.logprobs = v.get<bool>() ? 0 : -1;  // tolerated: true = chosen token only
    else
      base.logprobs = int(integer(b, "logprobs", -1, 0, kMaxLogprobs));
  }
  base.prompt_logprobs = r.echo && base.logprobs >= 0;
  if (!present(b, "prompt")) bad("prompt", "'prompt' is required");
  const json& p = b.at("prompt");
  std::vector<std::vector<int32_t>> prompts;
  const bool bos = tok.add_bos_default();
  auto from_ids = [&](const json& a) {
    std::vector<int32_t> ids;
    for (const auto& x : a) {
      if (!x.is_number_integer()) bad("prompt", "'prompt' must be a string, an array of token ids or an array of those");
      const int64_t v = x.get<int64_t>();
      if (v < 0 || v >= tok.n_vocab())
        bad("prompt", "token id " + std::to_string(v) + " is out of range [0, " + std::to_string(tok.n_vocab()) + ")");
      ids.push_back(int32_t(v));
    }
    return ids;
  };
  auto add_text = [&](const json& s) {
    const std::string t = s.get<std::string>();
    if (t.size() > (size_t(1) << 24)) bad("prompt", "the prompt is longer than 16 MiB");
    prompts.push_back(tok.encode(t, bos));
    r.prompt_texts.push_back(t);
  };
  auto add_ids = [&](const json& a) {
    prompts.push_back(from_ids(a));
    r.prompt_texts.push_back(tok.decode(prompts.back()));
  };
  if (p.is_string())
    add_text(p);
  else if (p.is_array() && !p.empty() && p[0].is_number())
    add_ids(p);
  else if (p.is_array() && !p.empty()) {
    if (int64_t(p.size()) > kMaxChoices) bad("prompt", "at most " + std::to_string(kMaxChoices) + " prompts per request");
    for (const auto& e : p) {
      if (e.is_string())
        add_text(e);
      else if (e.is_array())
        add_ids(e);
      else
        bad("prompt", "'prompt' must be a string, an array of token ids or an array of those");
    }
  } else {
    bad("prompt", "'prompt' must be a non-empty string, an array of token ids or an array of those");
  }
  for (const auto& ids : prompts) check_prompt(ids, tok, n_ctx, "prompt");
  expand(r, base, prompts, present(b, "seed"));
  return r;
}

ParsedRequest parse_chat(const json& b, const Tokenizer& tok, int64_t n_ctx, const ChatRenderer& render) {
  if (!b.is_object()) bad("", "the request body must be a JSON object");
  ParsedRequest r;
  r.chat = true;
  SeqSpec base;
  common(b, r, base);
  if (!present(b, "messages") || !b.at("messages").is_array() || b.at("messages").empty())
    bad("messages", "'messages' must be a non-empty array");
  std::vector<std::pair<std::string, std::string>> msgs;
  for (const auto& m : b.at("messages")) {
    if (!m.is_object() || !m.contains("role") || !m.at("role").is_string()) bad("messages", "every message needs a string 'role'");
    std::string content;
    const json c = m.value("content", json(nullptr));
    if (c.is_string())
      content = c.get<std::string>();
    else if (c.is_array()) {
      for (const auto& part : c) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part.at("text").is_string())
          bad("messages", "message content parts must be {\"type\": \"text\", \"text\": string}");
        content += part.at("text").get<std::string>();
      }
    } else if (!c.is_null()) {
      bad("messages", "message 'content' must be a string or an array of text parts");
    }
    msgs.push_back({m.at("role").get<std::string>(), content});
  }
  const bool want_lp = boolean(b, "logprobs", false);
  const int top = int(integer(b, "top_logprobs", 0, 0, kMaxLogprobs));
  base.logprobs = want_lp ? top : -1;
  const std::string text = render(msgs);
  std::vector<int32_t> ids = tok.encode_chat(text);
  check_prompt(ids, tok, n_ctx, "messages");
  const int64_t room = n_ctx - int64_t(ids.size());
  const char* mt = present(b, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  base.max_tokens = int(integer(b, mt, std::max<int64_t>(room, 1), 0, n_ctx));
  r.prompt_texts.push_back(text);
  expand(r, base, {ids}, present(b, "seed"));
  return r;
}

ResponseBuilder::ResponseBuilder(const ParsedRequest& req, const Tokenizer& tok, std::string id, std::string model, int64_t created)
    : req_(req), tok_(tok), id_(std::move(id)), model_(std::move(model)), created_(created), choices_(req.seqs.size()) {
  if (req_.echo)
    for (size_t i = 0; i < choices_.size(); ++i) choices_[i].text = req_.prompt_texts[i / size_t(req_.n)];
}

void ResponseBuilder::add_token_lp(Choice& c, const TokenLogprob& lp, bool null_first, int64_t offset) {
  c.tokens.push_back(tok_.token_to_piece(lp.id));
  c.text_offset.push_back(offset);
  if (null_first) {
    c.token_logprobs.push_back(nullptr);
    c.top_logprobs.push_back(nullptr);
    return;
  }
  c.token_logprobs.push_back(lp.logprob);
  json top = json::object();
  for (const auto& [id, v] : lp.top) {
    const std::string piece = tok_.token_to_piece(id);
    if (!top.contains(piece)) top[piece] = v;
  }
  if (!lp.top.empty()) {  // the chosen token too (vLLM does the same)
    const std::string piece = tok_.token_to_piece(lp.id);
    if (!top.contains(piece)) top[piece] = lp.logprob;
  }
  c.top_logprobs.push_back(top);
}

json ResponseBuilder::lp_json(const Choice& c, size_t from) const {
  json o;
  o["tokens"] = json(std::vector<std::string>(c.tokens.begin() + long(from), c.tokens.end()));
  o["token_logprobs"] = json(std::vector<json>(c.token_logprobs.begin() + long(from), c.token_logprobs.end()));
  o["top_logprobs"] = json(std::vector<json>(c.top_logprobs.begin() + long(from), c.top_logprobs.end()));
  o["text_offset"] = json(std::vector<int64_t>(c.text_offset.begin() + long(from), c.text_offset.end()));
  return o;
}

json ResponseBuilder::chunk_base() const {
  return {{"id", id_}, {"object", req_.chat ? "chat.completion.chunk" : "text_completion"}, {"created", created_}, {"model", model_}};
}

std::vector<json> ResponseBuilder::add(const Event& ev) {
  Choice& c = choices_[size_t(ev.seq)];
  const SeqSpec& spec = req_.seqs[size_t(ev.seq)];
  const size_t lp_from = c.tokens.size();
  std::string delta;
  if (!c.started && req_.echo) delta = c.text;  // the echoed prompt goes out with the first chunk
  if (ev.has_prompt_lp && !req_.chat) {
    // prompt tokens: the first has no log-prob; offsets follow decode()'s leading-space rule
    const std::vector<int32_t>& p = spec.prompt;
    int64_t cum = 0;
    int first_nonempty = -1;
    bool drop = false;
    for (size_t i = 0; i < p.size(); ++i) {
      const std::string piece = tok_.token_to_piece(p[i]);
      const int64_t off = std::max<int64_t>(0, cum - (drop && int(i) > first_nonempty ? 1 : 0));
      if (i == 0)
        add_token_lp(c, TokenLogprob{p[0], 0, {}}, true, off);
      else
        add_token_lp(c, ev.prompt_lp[i - 1], false, off);
      if (first_nonempty < 0 && !piece.empty()) {
        first_nonempty = int(i);
        drop = tok_.add_space_prefix() && piece[0] == ' ';
      }
      cum += int64_t(piece.size());
    }
  }
  if (ev.token >= 0) {
    ++c.completion_tokens;
    if (spec.logprobs >= 0) {
      if (req_.chat) {
        auto entry = [&](int32_t id, double v) {
          const std::string piece = tok_.token_to_piece(id);
          return json{{"token", piece}, {"logprob", v}, {"bytes", std::vector<uint8_t>(piece.begin(), piece.end())}};
        };
        json e = entry(ev.lp.id, ev.lp.logprob);
        e["top_logprobs"] = json::array();
        for (const auto& [id, v] : ev.lp.top) e["top_logprobs"].push_back(entry(id, v));
        c.chat_logprobs.push_back(e);
      } else {
        const int64_t echo_len = req_.echo ? int64_t(req_.prompt_texts[size_t(ev.seq) / size_t(req_.n)].size()) : 0;
        add_token_lp(c, ev.lp, false, echo_len + c.piece_bytes);
      }
    }
    c.piece_bytes += int64_t(tok_.token_to_piece(ev.token).size());
  }
  c.text += ev.text;
  delta += ev.text;
  if (!ev.finish.empty()) {
    c.finish = ev.finish;
    ++finished_;
  }
  std::vector<json> out;
  if (!req_.stream) {
    c.started = true;
    return out;
  }
  json ch = chunk_base();
  json choice = {{"index", ev.seq}, {"finish_reason", ev.finish.empty() ? json(nullptr) : json(ev.finish)}};
  if (req_.chat) {
    if (!c.started) {
      json first = chunk_base();
      first["choices"] = json::array(
          {{{"index", ev.seq}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
      out.push_back(first);
    }
    choice["delta"] = delta.empty() ? json::object() : json{{"content", delta}};
    if (spec.logprobs >= 0 && ev.token >= 0)
      choice["logprobs"] = {{"content", json::array({c.chat_logprobs.back()})}};
    else
      choice["logprobs"] = nullptr;
  } else {
    choice["text"] = delta;
    choice["logprobs"] = spec.logprobs >= 0 && c.tokens.size() > lp_from ? lp_json(c, lp_from) : json(nullptr);
  }
  c.started = true;
  ch["choices"] = json::array({choice});
  out.push_back(ch);
  return out;
}

json ResponseBuilder::usage() const {
  int64_t prompt = 0, completion = 0;
  for (int64_t p : req_.prompt_tokens) prompt += p;
  for (const auto& c : choices_) completion += c.completion_tokens;
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

json ResponseBuilder::usage_chunk() const {
  json ch = chunk_base();
  ch["choices"] = json::array();
  ch["usage"] = usage();
  return ch;
}

json ResponseBuilder::final_response() const {
  json o = {{"id", id_}, {"object", req_.chat ? "chat.completion" : "text_completion"}, {"created", created_}, {"model", model_}};
  json arr = json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    const SeqSpec& spec = req_.seqs[i];
    json ch = {{"index", i}, {"finish_reason", c.finish.empty() ? json(nullptr) : json(c.finish)}};
    if (req_.chat) {
      ch["message"] = {{"role", "assistant"}, {"content", c.text}};
      ch["logprobs"] = spec.logprobs >= 0 ? json{{"content", c.chat_logprobs}} : json(nullptr);
    } else {
      ch["text"] = c.text;
      ch["logprobs"] = spec.logprobs >= 0 ? lp_json(c, 0) : json(nullptr);
    }
    arr.push_back(ch);
  }
  o["choices"] = arr;
  o["usage"] = usage();
  return o;
}

}  // namespace sb::serve
