// `sparkbench decontam`: which items of a suite share word n-grams with training corpora
// (evals/decontam.h has the method and the normalization). Exit status: 0 when no item is
// flagged, 3 when some are, 1 on an error (unreadable file, bad option).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/decontam.h"
#include "evals/suite.h"
#include "harness/commands.h"

namespace sb::cli {

namespace {

struct DecontamArgs {
  std::string suite;
  std::vector<std::string> corpora;
  int n = 13;
  double threshold = 0;
  bool json = false;
};

void decontam(const DecontamArgs& a) {
  if (!(a.threshold >= 0 && a.threshold <= 1)) fail("decontam: --threshold must be in [0, 1], got ", a.threshold);
  const Suite s = load_suite(a.suite);
  std::vector<std::string> ids, texts;
  for (size_t i = 0; i < s.items.size(); ++i) {
    ids.push_back(s.item_id(i));
    texts.push_back(decontam_item_text(s.items[i].value));
  }
  DecontamIndex index(ids, texts, a.n);
  std::vector<CorpusStats> stats;
  for (const auto& c : a.corpora) stats.push_back(index.scan_file(c));
  const std::vector<DecontamItem> res = index.results(a.threshold);
  int64_t flagged = 0;
  for (const auto& r : res) flagged += r.flagged ? 1 : 0;
  if (a.json) {
    nlohmann::json j;
    j["suite"] = s.name;
    j["n"] = a.n;
    j["threshold"] = a.threshold;
    j["normalization"] = "ASCII lower-case, ASCII punctuation deleted, split at whitespace";
    j["corpus"] = nlohmann::json::array();
    for (const auto& c : stats) j["corpus"].push_back({{"path", c.path}, {"bytes", c.bytes}, {"words", c.words}});
    j["n_items"] = res.size();
    j["n_flagged"] = flagged;
    j["flagged"] = nlohmann::json::array();
    for (const auto& r : res)
      if (r.flagged)
        j["flagged"].push_back(
            {{"id", r.id}, {"words", r.n_words}, {"ngrams", r.n_ngrams}, {"matched", r.matched}, {"overlap", r.overlap}});
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    for (const auto& c : stats) std::printf("corpus %s: %lld bytes, %lld words\n", c.path.c_str(), (long long)c.bytes, (long long)c.words);
    std::printf("suite %s: %zu items, %d-grams, flagged when overlap > %g\n\n", s.name.c_str(), res.size(), a.n, a.threshold);
    if (flagged > 0) {
      std::printf("  %-28s %8s %8s %8s\n", "item", "n-grams", "matched", "overlap");
      for (const auto& r : res)
        if (r.flagged) std::printf("  %-28s %8lld %8lld %8.3f\n", r.id.c_str(), (long long)r.n_ngrams, (long long)r.matched, r.overlap);
      std::printf("\n");
    }
    std::printf("%lld of %zu items flagged\n", (long long)flagged, res.size());
  }
  std::fflush(stdout);
  if (flagged > 0) throw ExitCode{3};
}

}  // namespace

void add_decontam_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "decontam",
      "Report suite items whose word n-grams occur in training corpora (GPT-3 / lm-eval method; exit 0 clean, 3 flagged, 1 error)");
  static DecontamArgs a;
  cmd->add_option("--suite", a.suite, "A bundled suite name, a suite directory or a public-format file")->required();
  cmd->add_option("--corpus", a.corpora, "Training text files (plain or gzip), streamed; repeat or list several")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--n", a.n, "Words per n-gram (lower-cased, ASCII punctuation deleted, split at whitespace)")->capture_default_str();
  cmd->add_option("--threshold", a.threshold,
                  "Flag an item when the fraction of its distinct n-grams found in the corpus exceeds this (0: any shared n-gram)")
      ->capture_default_str();
  cmd->add_flag("--json", a.json, "Print one JSON object (flagged items only)");
  cmd->callback([] { decontam(a); });
}

}  // namespace sb::cli
