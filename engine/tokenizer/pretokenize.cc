// Byte-level BPE pre-tokenizer regex lists (after llama.cpp's llm_tokenizer_bpe, which takes
// them from each model's tokenizer.json), run with PCRE2.
#include "engine/tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine/core/error.h"
#include "engine/tokenizer/unicode.h"

namespace sb::tok {

namespace {

// Unicode White_Space (what llama.cpp's is_whitespace flag holds), for use inside a class.
constexpr std::string_view kWhiteSpace = R"(\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// GPT-2's pattern (llama.cpp runs it through a hand-written matcher equivalent to this).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kCjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
// deepseek-llm's cased-letter class (Unicode "LC" ranges as listed in its tokenizer.json).
constexpr const char* kDeepseekLetters =
    R"(\s?[\x{41}-\x{5A}\x{61}-\x{7A}\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD})"
    R"(\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15})"
    R"(\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
    R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB})"
    R"(\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D})"
    R"(\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E})"
    R"(\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06})"
    R"(\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB})"
    R"(\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kBloom = R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)";

struct Family {
  const char* name;
  bool ignore_merges, add_bos;
  std::vector<const char*> regexes;
  std::vector<const char*> aliases;  // tokenizer.ggml.pre values
};

const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {"default", false, false, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"}, {"default"}},
      {"gpt-2", false, false, {kGpt2}, {"gpt-2", "mpt", "olmo", "jais", "phi-2", "gigachat"}},
      {"starcoder", false, false, {R"(\p{N})", kGpt2}, {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"}},
      {"llama3", true, true, {kLlama3}, {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"}},
      {"dbrx", false, false, {kLlama3}, {"dbrx", "smaug-bpe"}},
      {"qwen2", false, false, {kQwen2}, {"qwen2", "stablelm2", "megrez", "deepseek-r1-qwen", "hunyuan"}},
      {"falcon", false, false, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"}, {"falcon"}},
      {"deepseek-coder", false, false, {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"}, {"deepseek-coder"}},
      {"deepseek-llm",
       false,
       false,
       {R"([\r\n])", kDeepseekLetters, R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)", R"(\s+$)",
        kCjk, R"(\p{N}+)"},
       {"deepseek-llm"}},
      {"bloom", false, false, {kBloom}, {"bloom", "poro-chat", "gpt3-finnish"}},
      {"viking", false, false, {kBloom, R"(\p{N})"}, {"viking"}},
  };
  return f;
}

// Rewrites \s and \S into explicit White_Space classes (PCRE2's own \s differs on U+0085).
std::string translate(std::string_view re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char d = re[++i];
      if (d == 's') {
        if (in_class)
          out += kWhiteSpace;
        else
          out.append("[").append(kWhiteSpace).append("]");
      } else if (d == 'S' && !in_class) {
        out.append("[^").append(kWhiteSpace).append("]");
      } else {
        out.push_back('\\');
        out.push_back(d);
      }
      continue;
    }
    if (c == '[' && !in_class)
      in_class = true;
    else if (c == ']' && in_class)
      in_class = false;
    out.push_back(c);
  }
  return out;
}

std::string pcre2_message(int rc) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(rc, buf, sizeof buf) < 0) return "error " + std::to_string(rc);
  return reinterpret_cast<const char*>(buf);
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

pcre2_match_data* thread_match_data() {
  thread_local std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(pcre2_match_data_create(1, nullptr));
  if (!md) throw std::bad_alloc();
  return md.get();
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() = default;

std::unique_ptr<PreTokenizer> PreTokenizer::create(const std::string& pre, const std::string& file) {
  const Family* fam = nullptr;
  std::string names;
  for (const auto& f : families()) {
    for (const char* a : f.aliases) {
      if (pre == a) fam = &f;
      names += (names.empty() ? "" : ", ") + std::string(a);
    }
  }
  if (!fam) fail(file, ": metadata 'tokenizer.ggml.pre' = '", pre, "' is not a supported pre-tokenizer (supported: ", names, ")");
  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  p->spec_ = {fam->name, fam->ignore_merges, fam->add_bos};
  for (const char* src : fam->regexes) {
    const std::string re = translate(src);
    int err = 0;
    PCRE2_SIZE at = 0;
    auto r = std::make_unique<Regex>();
    r->code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(), PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &at, nullptr);
    if (!r->code) fail("internal: pre-tokenizer regex '", src, "' does not compile: ", pcre2_message(err), " at ", at);
    (void)pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
    p->regexes_.push_back(std::move(r));
  }
  return p;
}

void PreTokenizer::split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& pieces) const {
  pieces.clear();
  if (text.empty()) return;
  pieces.emplace_back(0, uint32_t(text.size()));
  pcre2_match_data* md = thread_match_data();
  std::vector<std::pair<uint32_t, uint32_t>> next;
  for (const auto& r : regexes_) {
    next.clear();
    next.reserve(pieces.size() * 2);
    for (const auto& [b, e] : pieces) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + b);
      const size_t len = e - b;
      size_t pos = 0, prev = 0;
      while (pos < len) {
        int rc = pcre2_match(r->code, subject, len, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) rc = pcre2_match(r->code, subject, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) fail("pre-tokenizer regex failed: ", pcre2_message(rc));
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t ms = ov[0], me = ov[1];
        if (me <= ms) {  // empty match: no piece; move on by one character
          if (ms >= len) break;
          pos = ms + utf8_len(uint8_t(text[b + ms]));
          continue;
        }
        if (ms > prev) next.emplace_back(uint32_t(b + prev), uint32_t(b + ms));
        next.emplace_back(uint32_t(b + ms), uint32_t(b + me));
        prev = pos = me;
      }
      if (prev < len) next.emplace_back(uint32_t(b + prev), e);
    }
    pieces.swap(next);
  }
}

}  // namespace sb::tok
