// Code-generation problems and model samples in the public JSONL layouts, and the rule that
// turns a problem plus a completion into the Python program the sandbox runs.
//
// Problems (one JSON object per line; plain or gzip-compressed, detected by content):
// - HumanEval: task_id, prompt, entry_point, canonical_solution, test (all strings).
//   program = prompt + completion + "\n" + test + "\n" + "check(" + entry_point + ")\n"
// - MBPP: task_id (integer or string), text (or prompt), code, test_list (strings), optional
//   test_setup_code (string) and test_imports (strings).
//   program = completion + "\n" + test_setup_code + "\n" + test_imports and test_list, one a line.
//   The problem's prompt is `text`; its canonical solution is `code`.
// - HumanEval+ (EvalPlus): the HumanEval fields (test optional) plus base_input / plus_input
//   (lists of argument lists) and atol. The program also runs the reference solution
//   (prompt + canonical_solution) and the completion on every input and requires equal results
//   (floats within max(atol, 1e-6)), as EvalPlus's differential testing does.
// - HumanEvalFix (HumanEvalPack): task_id, declaration, buggy_solution, canonical_solution,
//   entry_point, test (which calls check itself). program = standard-library imports +
//   declaration (right-stripped) + completion + "\n" + test [+ check(entry_point) if absent].
// - Repair problems in the bundled code-repair layout: HumanEval lines with two optional string
//   fields more, buggy_solution (the buggy code, assembled like a completion) and bug_type.
// Each line is recognised by its fields (buggy_solution with declaration: HumanEvalFix; entry_point with
// base_input/plus_input: HumanEval+; entry_point: HumanEval; test_list: MBPP); other fields
// are ignored. Blank lines are skipped. A sanitized-MBPP file (one JSON array) is read by
// code_problem_from_json per element.
//
// code_prompt() is the text the model completes: HumanEval / HumanEval+: prompt; MBPP:
// lm-eval's mbpp.yaml doc_to_text (the MBPP paper's prompt with every test assert);
// HumanEvalFix: bigcode's humanevalfixtests "instruct" prompt.
//
// Samples: task_id + completion (a string) per line; every other field is kept verbatim (the
// whole object is kept) so results can be written back next to it. A task_id given as an
// integer matches the problem whose task_id is that integer.
//
// Errors: malformed input throws sb::Error "FILE:LINE: <what is wrong>" (bad JSON, not an
// object, missing field, wrong type, duplicate task_id, a sample naming an unknown task_id);
// an unreadable or empty file gives "FILE: <what is wrong>". Loading is single-threaded; the
// returned values are plain data.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace sb {

enum class CodeFormat { HumanEval, Mbpp, EvalPlus, HumanEvalFix };

struct CodeProblem {
  CodeFormat format = CodeFormat::HumanEval;
  std::string task_id;                    // integers are kept in decimal
  std::string prompt;                     // HumanEval prompt, or MBPP text
  std::string entry_point;                // HumanEval only
  std::string canonical_solution;         // HumanEval canonical_solution, or MBPP code
  std::string test;                       // HumanEval test
  std::string buggy_solution;             // repair problems and HumanEvalFix: the buggy code ("" when absent)
  std::string bug_type;                   // repair problems: the bug's kind ("" when absent)
  std::vector<std::string> test_list;     // MBPP
  std::vector<std::string> test_imports;  // MBPP (sanitized variant)
  std::string test_setup_code;            // MBPP
  nlohmann::json inputs;                  // HumanEval+: base_input then plus_input (argument lists)
  double atol = 0;                        // HumanEval+
  std::string declaration;                // HumanEvalFix (its buggy code is buggy_solution)
  int64_t line = 0;                       // where it was defined
};

// One problem from a parsed JSON object (`where` names FILE:LINE in errors).
CodeProblem code_problem_from_json(const nlohmann::json& j, const std::string& path, int64_t line);
// The prompt the model completes (see above).
std::string code_prompt(const CodeProblem& problem);

// The program to execute for `completion` (see the rules above).
std::string assemble_program(const CodeProblem& problem, const std::string& completion);
// The program with the problem's own reference solution (HumanEval: prompt + canonical body).
std::string canonical_program(const CodeProblem& problem);
// The program with the buggy code of a repair problem (buggy_solution non-empty).
std::string buggy_program(const CodeProblem& problem);

struct CodeProblemSet {
  std::string path;
  std::vector<CodeProblem> problems;              // file order
  std::unordered_map<std::string, size_t> index;  // task_id -> position
  const CodeProblem* find(const std::string& task_id) const;
};

struct CodeSample {
  std::string task_id;
  std::string completion;
  nlohmann::ordered_json record;  // the whole input object, field order kept
  int64_t line = 0;
};

// Reads a whole file, transparently decompressing gzip. Throws sb::Error "FILE: ...".
std::string read_maybe_gzip(const std::string& path);

CodeProblemSet load_code_problems(const std::string& path);
// Samples in file order; each task_id must name a problem of `problems`.
std::vector<CodeSample> load_code_samples(const std::string& path, const CodeProblemSet& problems);

}  // namespace sb
