// Suite: an evaluation data set and how to prompt and score it.
//
// A bundled suite is a directory datasets/<name>/ with manifest.json and a JSONL data file
// (docs/SUITES.md documents every manifest field). load_suite() also accepts public formats as
// they are: HumanEval, HumanEval+, HumanEvalFix and MBPP problem files (.jsonl, .jsonl.gz, or
// the sanitized-MBPP .json array) become "code" suites, a SQuAD-style .json file a "generate"
// QA suite, a .txt file a "perplexity" suite (one item per paragraph), and the public
// benchmarks of evals/public_formats.h (HellaSwag, ARC, MMLU .csv or directory, PIQA,
// Winogrande, BoolQ, GSM8K) the suites described there. The manifest's sha256 (of the data file) is checked when present, so a data
// change without a version bump is caught. Errors throw sb::Error naming the file (and line).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/jsonl.h"

namespace sb {

struct Suite {
  std::string name;
  std::string version;
  std::string task;    // multiple_choice | generate | code | dialogue | perplexity
  std::string source;  // directory or file it came from
  std::string data_path;
  std::string data_sha256;
  nlohmann::json manifest;  // the full manifest (synthesized for public formats)
  std::vector<JsonlRecord> items;
  // long_context suites only (evals/long_context.h): the filler sentences, in order. Their items
  // are generated for a model by long_context_items() (none until then).
  std::vector<std::string> filler;

  // Stable id of item i ("id", else "task_id", else "<name>/<i>").
  std::string item_id(size_t i) const;
  // Manifest value with a default; a value of the wrong JSON type is an sb::Error naming the
  // manifest and the field.
  template <class T>
  T get(const char* key, T def) const {
    auto it = manifest.find(key);
    if (it == manifest.end() || it->is_null()) return def;
    try {
      return it->get<T>();
    } catch (const nlohmann::json::exception&) {
      bad_field(key);
    }
  }
  [[noreturn]] void bad_field(const char* key) const;
};

// Directory holding the bundled suites: $SPARKBENCH_DATASETS, else the source tree's datasets/.
std::string datasets_dir();
// Names of the bundled suites (directories with a manifest.json), sorted.
std::vector<std::string> bundled_suites();
// The suite names a `--suite` list stands for: "all" becomes every bundled suite whose manifest
// does not say "in_all": false (long-context opts out: too slow for a CI smoke run); other
// names are kept as given. One rule for local and remote (`run --api`) runs.
std::vector<std::string> expand_suite_names(const std::vector<std::string>& requested);
// A bundled suite name, a suite directory, or a public-format file.
Suite load_suite(const std::string& name_or_path);

// Replaces {field} (and {field[N]} for arrays) in a template with the item's values.
std::string fill_template(const std::string& tmpl, const nlohmann::json& item, const std::string& where);

}  // namespace sb
