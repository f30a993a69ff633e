// Public benchmarks in their own file formats (no download: the user passes the file), turned
// into items and a synthesized manifest of an existing task kind. docs/SUITES.md lists every
// format, the fields read and the lm-eval / bigcode-evaluation-harness task whose prompt it
// follows; the prompt text built here is that task's doc_to_text, each choice is the target
// delimiter " " plus doc_to_choice, so log-likelihoods match lm-eval's requests.
//
// Detected from the records' fields (first record), in this order:
//   HellaSwag   ctx_a/ctx_b (or ctx), endings, label          -> multiple_choice  (format hellaswag)
//   ARC         question.stem, question.choices[], answerKey   -> multiple_choice  (arc)
//   PIQA        goal, sol1, sol2, label or FILE-labels.lst     -> multiple_choice  (piqa)
//   Winogrande  sentence (with "_"), option1, option2, answer  -> multiple_choice  (winogrande,
//               one context per choice: the sentence up to the blank with the option filled in;
//               the scored continuation is the rest of the sentence after the blank)
//   BoolQ       question, passage, answer (bool) or label      -> multiple_choice  (boolq)
//   GSM8K       question, answer with "#### N"                 -> generate (gsm8k, 8-shot chain of
//               thought from the bundled exemplars unless --num-fewshot / --fewshot-from)
//   HumanEval+  HumanEval fields + base_input/plus_input        -> code (evalplus)
//   HumanEvalFix buggy_solution, declaration, entry_point, test -> code (humanevalfix)
// MMLU is a headerless CSV (question,A,B,C,D,answer) named SUBJECT_test.csv / _dev / _val, or
// a directory of them (one suite; per-subject and macro accuracy).
// Items are checked here, so a bad file fails before any model work, with one line naming the
// file and line ("FILE:LINE: ..."; for a JSON array the element number, for CSV the line the
// row starts on).
#pragma once

#include <filesystem>
#include <vector>

#include "evals/suite.h"

namespace sb {

// Fills s.task, s.manifest and s.items from `records` (the parsed lines of s.data_path) when
// they are one of the formats above; false when no format matches (s is left untouched).
bool convert_public_records(Suite& s, const std::vector<JsonlRecord>& records);

// True for a .csv file, or a directory that holds .csv files and no manifest.json.
bool is_mmlu_path(const std::filesystem::path& p);
// MMLU file or directory -> multiple_choice suite with "subject" groups.
Suite load_mmlu(const std::filesystem::path& p);

// RFC 4180 CSV: fields separated by ',', optionally double-quoted ("" inside quotes is one "),
// quoted fields may span lines; CRLF or LF line ends. Each row with the 1-based line it starts
// on. Throws sb::Error "PATH:LINE: ..." for an unterminated quote.
struct CsvRow {
  int64_t line = 0;
  std::vector<std::string> fields;
};
std::vector<CsvRow> parse_csv(const std::string& text, const std::string& path);

// lm-eval's HellaSwag preprocess: strip, " [title]" -> ". ", drop "[...]", "  " -> " ".
std::string hellaswag_preprocess(const std::string& text);

// The final answer of a GSM8K solution: the text after the last "#### ", commas removed; ""
// when there is none.
std::string gsm8k_gold(const std::string& answer);
// lm-eval gsm8k filters: strict = the number after the first "#### "; flexible = the last
// number in the text. Both with "," and "$" removed and a trailing "." dropped; "" if none.
std::string gsm8k_strict(const std::string& text);
std::string gsm8k_flexible(const std::string& text);

}  // namespace sb
