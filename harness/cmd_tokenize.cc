// `sparkbench tokenize`: text -> token ids with the model's own tokenizer.
//   sparkbench tokenize -m MODEL [--no-bos] [--parse-special] [--ids | --json] [--text TEXT]
// Without --text the text is stdin, byte for byte (trailing newlines, tabs and lone spaces are
// part of it). Output: one line per token `id<TAB>'piece'` (escaped) by default, the ids on one
// line with --ids, or one JSON object {"ids", "pieces", "n_tokens"} with --json. Pieces show
// what a token stands for; control/unknown tokens show their own text (e.g. '<s>').
// Hidden: --bench-repeat N encodes the text N times (after one warm-up run) and reports the
// single-thread throughput on stderr instead of printing tokens.
#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "harness/commands.h"

namespace sb::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool has_text = false;
  bool no_bos = false;
  bool parse_special = false;
  bool ids = false;
  bool json = false;
  int bench_repeat = 0;
};

std::string read_stdin() {
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) s.append(buf, n);
  if (std::ferror(stdin)) fail("cannot read standard input");
  return s;
}

// What to show for a token: its piece, or its own text when the piece is empty (control).
std::string display_piece(const Tokenizer& tok, int32_t id) {
  std::string p = tok.token_to_piece(id);
  if (p.empty() && tok.attr(id) != TokenAttr::Normal) p = tok.token_text(id);
  return p;
}

void run_bench(const Tokenizer& tok, const std::string& text, bool bos, bool special, int repeat) {
  auto ids = tok.encode(text, bos, special);  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  size_t n_tokens = 0;
  for (int i = 0; i < repeat; ++i) n_tokens += tok.encode(text, bos, special).size();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mb = double(text.size()) * repeat / 1e6;
  std::fprintf(stderr, "tokenize bench: %s%s%s, %zu bytes -> %zu tokens, %d runs in %.3f s: %.2f MB/s, %.0f tokens/s\n", tok.kind().c_str(),
               tok.pre().empty() ? "" : "/", tok.pre().c_str(), text.size(), ids.size(), repeat, s, mb / s, double(n_tokens) / s);
}

void run(const TokenizeOptions& o) {
  auto f = GgufFile::open(o.model);
  auto tok = Tokenizer::from_gguf(*f);
  f.reset();
  const std::string text = o.has_text ? o.text : read_stdin();
  const bool bos = !o.no_bos && tok->add_bos_default();
  if (o.bench_repeat > 0) {
    run_bench(*tok, text, bos, o.parse_special, o.bench_repeat);
    return;
  }
  const std::vector<int32_t> ids = tok->encode(text, bos, o.parse_special);
  if (o.json) {
    nlohmann::json j;
    j["ids"] = ids;
    auto& pieces = j["pieces"] = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(display_piece(*tok, id));
    j["n_tokens"] = ids.size();
    // Byte tokens may hold partial UTF-8: such bytes are written as U+FFFD.
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (o.ids) {
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
    std::printf("%s\n", line.c_str());
  } else {
    for (int32_t id : ids) std::printf("%d\t'%s'\n", id, tok::escape_bytes(display_piece(*tok, id), '\'').c_str());
  }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  static TokenizeOptions o;
  auto* cmd = app.add_subcommand("tokenize", "Turn text into token ids with a model's tokenizer");
  cmd->add_option("-m,--model", o.model, "GGUF file with tokenizer metadata (a model or a vocab-only file)")->required();
  auto* text = cmd->add_option("--text", o.text, "Text to tokenize (default: read standard input byte for byte)");
  cmd->add_flag("--no-bos", o.no_bos, "Do not prepend BOS (by default it is added when the model asks for it)");
  cmd->add_flag("--parse-special", o.parse_special, "Map control-token texts such as <s> in the input to their ids");
  auto* ids = cmd->add_flag("--ids", o.ids, "Print only the ids, space-separated on one line");
  auto* json = cmd->add_flag("--json", o.json, "Print one JSON object: ids, pieces, n_tokens");
  ids->excludes(json);
  cmd->add_option("--bench-repeat", o.bench_repeat, "Encode N times and report throughput on stderr")
      ->group("")
      ->check(CLI::Range(1, 1000000));
  cmd->callback([text] {
    o.has_text = text->count() > 0;
    run(o);
  });
}

}  // namespace sb::cli
