#include "evals/code_problems.h"

#include <zlib.h>

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "engine/core/error.h"

namespace sb {

namespace {

using json = nlohmann::json;

// One line of a JSONL file with its 1-based number.
struct Line {
  int64_t number;
  std::string_view text;
};

std::vector<Line> split_lines(const std::string& data) {
  std::vector<Line> lines;
  size_t pos = 0;
  int64_t number = 0;
  while (pos < data.size()) {
    size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    ++number;
    std::string_view t(data.data() + pos, end - pos);
    if (!t.empty() && t.back() == '\r') t.remove_suffix(1);
    bool blank = true;
    for (char c : t)
      if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') blank = false;
    if (!blank) lines.push_back({number, t});
    pos = end + 1;
  }
  return lines;
}

// Control characters would break the one-line error contract.
std::string one_line(std::string s) {
  for (char& c : s)
    if ((unsigned char)c < 0x20) c = ' ';
  return s;
}

template <class Json = json>
Json parse_object(const std::string& path, const Line& line) {
  Json j;
  try {
    j = Json::parse(line.text);
  } catch (const typename Json::exception& e) {  // parse_error, or out_of_range for a too-large number
    std::string m = e.what();
    size_t p = m.find("] ");
    if (p != std::string::npos) m = m.substr(p + 2);
    const std::string at_line = "at line 1, column";
    p = m.find(at_line);
    if (p != std::string::npos) m.replace(p, at_line.size(), "at column");
    fail(path, ":", line.number, ": invalid JSON: ", one_line(m));
  }
  if (!j.is_object()) fail(path, ":", line.number, ": expected a JSON object, got ", j.type_name());
  return j;
}

template <class Json>
const char* type_of(const Json& v) {
  return v.type_name();
}

template <class Json>
std::string get_string(const std::string& path, int64_t ln, const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) fail(path, ":", ln, ": missing field \"", key, "\"");
  if (!it->is_string()) fail(path, ":", ln, ": field \"", key, "\" must be a string, got ", type_of(*it));
  return it->template get<std::string>();
}

template <class Json>
std::string get_optional_string(const std::string& path, int64_t ln, const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (!it->is_string()) fail(path, ":", ln, ": field \"", key, "\" must be a string, got ", type_of(*it));
  return it->template get<std::string>();
}

template <class Json>
std::vector<std::string> get_string_list(const std::string& path, int64_t ln, const Json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || (!required && it->is_null())) {
    if (required) fail(path, ":", ln, ": missing field \"", key, "\"");
    return {};
  }
  if (!it->is_array()) fail(path, ":", ln, ": field \"", key, "\" must be a list of strings, got ", type_of(*it));
  std::vector<std::string> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& v = (*it)[i];
    if (!v.is_string()) fail(path, ":", ln, ": field \"", key, "\"[", i, "] must be a string, got ", type_of(v));
    out.push_back(v.template get<std::string>());
  }
  return out;
}

// task_id as a string or an integer (MBPP); integers become their decimal text.
template <class Json>
std::string get_task_id(const std::string& path, int64_t ln, const Json& j) {
  auto it = j.find("task_id");
  if (it == j.end()) fail(path, ":", ln, ": missing field \"task_id\"");
  if (it->is_string()) return it->template get<std::string>();
  if (it->is_number_integer())
    return it->is_number_unsigned() ? std::to_string(it->template get<uint64_t>()) : std::to_string(it->template get<int64_t>());
  fail(path, ":", ln, ": field \"task_id\" must be a string or an integer, got ", type_of(*it));
}

}  // namespace

std::string read_maybe_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, ": cannot open: ", errno ? std::strerror(errno) : "out of memory");
  gzbuffer(f, 1 << 17);
  std::string data;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      if (code == Z_ERRNO) msg = std::strerror(errno);
      gzclose(f);
      fail(path, ": read error: ", msg);
    }
    if (n == 0) break;
    data.append(buf, size_t(n));
  }
  // gzread reports a truncated gzip stream only through gzerror at the end.
  int code = 0;
  const char* msg = gzerror(f, &code);
  if (code != Z_OK && code != Z_BUF_ERROR) {
    std::string m = msg;
    gzclose(f);
    fail(path, ": read error: ", m);
  }
  int rc = gzclose(f);
  if (rc == Z_BUF_ERROR) fail(path, ": read error: truncated gzip file");
  if (rc != Z_OK) fail(path, ": read error: gzclose failed (", rc, ")");
  return data;
}

const CodeProblem* CodeProblemSet::find(const std::string& task_id) const {
  auto it = index.find(task_id);
  return it == index.end() ? nullptr : &problems[it->second];
}

namespace {

std::string rstrip(const std::string& s) {
  const size_t e = s.find_last_not_of(" \t\r\n\f\v");
  return e == std::string::npos ? "" : s.substr(0, e + 1);
}

std::string strip(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n\f\v");
  return a == std::string::npos ? "" : rstrip(s.substr(a));
}

// A Python string literal holding `text` (a JSON string literal is one).
std::string py_str(const std::string& text) { return json(text).dump(-1, ' ', false, json::error_handler_t::replace); }

// Standard-library imports bigcode's HumanEvalPack evaluation puts before Python programs
// (its IMPORT_HELPER without numpy, which the sandbox need not have).
const char* kFixImports =
    "import math\nimport re\nimport sys\nimport copy\nimport datetime\nimport itertools\nimport collections\n"
    "import heapq\nimport functools\nimport hashlib\nimport string\nfrom typing import *\nfrom collections import *\n";

// EvalPlus-style differential test: the completion must return what the reference returns.
std::string evalplus_check(const CodeProblem& p) {
  std::string s;
  s += "import copy as _sb_copy, json as _sb_json, math as _sb_math\n";
  s += "_sb_ns = {}\n";
  s += "exec(" + py_str(p.prompt + p.canonical_solution) + ", _sb_ns)\n";
  s += "_sb_ref = _sb_ns[" + py_str(p.entry_point) + "]\n";
  s += "_sb_cand = " + p.entry_point + "\n";
  s += "def _sb_same(a, b, atol):\n";
  s += "    if isinstance(a, float) or isinstance(b, float):\n";
  s += "        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):\n";
  s += "            return False\n";
  s += "        return a == b or _sb_math.isclose(a, b, rel_tol=0.0, abs_tol=atol)\n";
  s += "    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):\n";
  s += "        return type(a) == type(b) and len(a) == len(b) and all(_sb_same(x, y, atol) for x, y in zip(a, b))\n";
  s += "    return type(a) == type(b) and a == b\n";
  char atol[64];
  std::snprintf(atol, sizeof atol, "%.17g", std::max(p.atol, 1e-6));
  s += "for _sb_args in _sb_json.loads(" + py_str(p.inputs.dump()) + "):\n";
  s += "    _sb_want = _sb_ref(*_sb_copy.deepcopy(_sb_args))\n";
  s += "    _sb_got = _sb_cand(*_sb_copy.deepcopy(_sb_args))\n";
  s += std::string("    assert _sb_same(_sb_got, _sb_want, ") + atol + "), ('input', _sb_args)\n";
  return s;
}

std::string fix_test(const CodeProblem& p) {
  std::string t = p.test;
  if (t.find("check(" + p.entry_point + ")") == std::string::npos) t += "\ncheck(" + p.entry_point + ")\n";
  return t;
}

}  // namespace

std::string assemble_program(const CodeProblem& p, const std::string& completion) {
  switch (p.format) {
    case CodeFormat::HumanEval:
      return p.prompt + completion + "\n" + p.test + "\n" + "check(" + p.entry_point + ")\n";
    case CodeFormat::EvalPlus: {
      std::string s = p.prompt + completion + "\n";
      if (!p.test.empty()) s += p.test + "\n" + "check(" + p.entry_point + ")\n";
      return s + evalplus_check(p);
    }
    case CodeFormat::HumanEvalFix:
      return std::string(kFixImports) + rstrip(p.declaration) + completion + "\n" + fix_test(p);
    case CodeFormat::Mbpp:
      break;
  }
  std::string s = completion + "\n" + p.test_setup_code + "\n";
  for (const auto& t : p.test_imports) s += t + "\n";
  for (const auto& t : p.test_list) s += t + "\n";
  return s;
}

std::string canonical_program(const CodeProblem& p) {
  if (p.format == CodeFormat::HumanEvalFix) return std::string(kFixImports) + p.declaration + p.canonical_solution + "\n" + fix_test(p);
  return assemble_program(p, p.canonical_solution);
}
std::string buggy_program(const CodeProblem& p) {
  if (p.format == CodeFormat::HumanEvalFix) return std::string(kFixImports) + p.declaration + p.buggy_solution + "\n" + fix_test(p);
  return assemble_program(p, p.buggy_solution);
}

std::string code_prompt(const CodeProblem& p) {
  switch (p.format) {
    case CodeFormat::Mbpp: {
      std::string s = "You are an expert Python programmer, and here is your task: " + p.prompt + " Your code should pass these tests:\n\n";
      for (const auto& t : p.test_list) s += t + "\n";
      return s + "[BEGIN]\n";
    }
    case CodeFormat::HumanEvalFix:
      return strip(p.declaration + p.buggy_solution + "\n" + p.test + "\n" + "Fix bugs in " + p.entry_point + "." + "\n\n" + p.declaration);
    default:
      return p.prompt;
  }
}

CodeProblem code_problem_from_json(const json& j, const std::string& path, int64_t ln) {
  if (!j.is_object()) fail(path, ":", ln, ": expected a JSON object, got ", j.type_name());
  CodeProblem p;
  p.line = ln;
  p.task_id = get_task_id(path, ln, j);
  if (j.contains("buggy_solution") && j.contains("declaration")) {
    p.format = CodeFormat::HumanEvalFix;
    p.prompt = get_optional_string(path, ln, j, "prompt");
    p.declaration = get_string(path, ln, j, "declaration");
    p.buggy_solution = get_string(path, ln, j, "buggy_solution");
    p.entry_point = get_string(path, ln, j, "entry_point");
    p.canonical_solution = get_string(path, ln, j, "canonical_solution");
    p.test = get_string(path, ln, j, "test");
  } else if (j.contains("entry_point") && (j.contains("plus_input") || j.contains("base_input"))) {
    p.format = CodeFormat::EvalPlus;
    p.prompt = get_string(path, ln, j, "prompt");
    p.entry_point = get_string(path, ln, j, "entry_point");
    p.canonical_solution = get_string(path, ln, j, "canonical_solution");
    p.test = get_optional_string(path, ln, j, "test");
    p.inputs = json::array();
    for (const char* k : {"base_input", "plus_input"}) {
      auto it = j.find(k);
      if (it == j.end() || it->is_null()) continue;
      if (!it->is_array()) fail(path, ":", ln, ": field \"", k, "\" must be a list of argument lists, got ", type_of(*it));
      for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_array()) fail(path, ":", ln, ": field \"", k, "\"[", i, "] must be a list of arguments, got ", type_of((*it)[i]));
        p.inputs.push_back((*it)[i]);
      }
    }
    if (auto a = j.find("atol"); a != j.end() && !a->is_null()) {
      if (!a->is_number()) fail(path, ":", ln, ": field \"atol\" must be a number, got ", type_of(*a));
      p.atol = a->get<double>();
    }
  } else if (j.contains("entry_point")) {
    p.format = CodeFormat::HumanEval;
    p.prompt = get_string(path, ln, j, "prompt");
    p.entry_point = get_string(path, ln, j, "entry_point");
    p.canonical_solution = get_string(path, ln, j, "canonical_solution");
    p.test = get_string(path, ln, j, "test");
    // the bundled code-repair layout: HumanEval plus the buggy code and the kind of bug
    p.buggy_solution = get_optional_string(path, ln, j, "buggy_solution");
    p.bug_type = get_optional_string(path, ln, j, "bug_type");
  } else if (j.contains("test_list")) {
    p.format = CodeFormat::Mbpp;
    p.prompt = j.contains("text") ? get_string(path, ln, j, "text") : get_string(path, ln, j, "prompt");
    p.canonical_solution = get_string(path, ln, j, "code");
    p.test_list = get_string_list(path, ln, j, "test_list", true);
    p.test_imports = get_string_list(path, ln, j, "test_imports", false);
    p.test_setup_code = get_optional_string(path, ln, j, "test_setup_code");
  } else {
    fail(path, ":", ln,
         ": not a code problem: expected HumanEval fields (task_id, prompt, entry_point, canonical_solution, test), "
         "MBPP fields (task_id, text, code, test_list) or HumanEvalFix fields (declaration, buggy_solution, ...)");
  }
  return p;
}

CodeProblemSet load_code_problems(const std::string& path) {
  CodeProblemSet set;
  set.path = path;
  const std::string data = read_maybe_gzip(path);
  std::vector<std::pair<int64_t, json>> objects;
  const size_t first = data.find_first_not_of(" \t\r\n");
  const bool json_file = path.size() > 5 && (path.compare(path.size() - 5, 5, ".json") == 0 ||
                                             (path.size() > 8 && path.compare(path.size() - 8, 8, ".json.gz") == 0));
  if (json_file && first != std::string::npos && data[first] == '[') {  // sanitized MBPP: one JSON array
    json arr;
    try {
      arr = json::parse(data);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number too large
      fail(path, ": invalid JSON: ", one_line(e.what()));
    }
    for (size_t i = 0; i < arr.size(); ++i) objects.emplace_back(int64_t(i + 1), std::move(arr[i]));
  } else {
    for (const Line& line : split_lines(data)) objects.emplace_back(line.number, parse_object(path, line));
  }
  std::unordered_map<std::string, int64_t> first_line;
  for (auto& [ln, j] : objects) {
    CodeProblem p = code_problem_from_json(j, path, ln);
    auto [it, inserted] = first_line.emplace(p.task_id, ln);
    if (!inserted) fail(path, ":", ln, ": duplicate task_id \"", one_line(p.task_id), "\" (first on line ", it->second, ")");
    set.index.emplace(p.task_id, set.problems.size());
    set.problems.push_back(std::move(p));
  }
  if (set.problems.empty()) fail(path, ": no problems in file");
  return set;
}

std::vector<CodeSample> load_code_samples(const std::string& path, const CodeProblemSet& problems) {
  std::vector<CodeSample> samples;
  const std::string data = read_maybe_gzip(path);
  for (const Line& line : split_lines(data)) {
    const int64_t ln = line.number;
    CodeSample s;
    s.line = ln;
    s.record = parse_object<nlohmann::ordered_json>(path, line);
    s.task_id = get_task_id(path, ln, s.record);
    s.completion = get_string(path, ln, s.record, "completion");
    if (!problems.find(s.task_id))
      fail(path, ":", ln, ": task_id \"", one_line(s.task_id), "\" is not in the problems file ", problems.path);
    samples.push_back(std::move(s));
  }
  if (samples.empty()) fail(path, ": no samples in file");
  return samples;
}

}  // namespace sb
