#include "evals/suite.h"

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/core/sha256.h"
#include "evals/code_problems.h"
#include "evals/public_formats.h"

namespace fs = std::filesystem;

namespace sb {

void Suite::bad_field(const char* key) const {
  const std::filesystem::path src(source);
  const std::string where = std::filesystem::is_directory(src) ? (src / "manifest.json").string() : source;
  fail(where, ": field '", key, "' is a ", manifest[key].type_name(), ", not the type it needs");
}

std::string Suite::item_id(size_t i) const {
  const auto& v = items[i].value;
  for (const char* k : {"id", "task_id"}) {
    auto it = v.find(k);
    if (it == v.end()) continue;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return name + "/" + std::to_string(it->get<int64_t>());
  }
  return name + "/" + std::to_string(i);
}

std::string datasets_dir() {
  if (const char* d = std::getenv("SPARKBENCH_DATASETS"); d && *d) return d;
#ifdef SPARKBENCH_SOURCE_DIR
  return std::string(SPARKBENCH_SOURCE_DIR) + "/datasets";
#else
  return "datasets";
#endif
}

std::vector<std::string> bundled_suites() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(datasets_dir(), ec))
    if (e.is_directory() && fs::exists(e.path() / "manifest.json")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> expand_suite_names(const std::vector<std::string>& requested) {
  std::vector<std::string> out;
  for (const auto& s : requested) {
    if (s == "all") {
      for (const auto& b : bundled_suites())
        if (load_suite(b).get<bool>("in_all", true)) out.push_back(b);
    } else {
      out.push_back(s);
    }
  }
  return out;
}

std::string fill_template(const std::string& tmpl, const nlohmann::json& item, const std::string& where) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] != '{') {
      out += tmpl[i++];
      continue;
    }
    const size_t close = tmpl.find('}', i);
    if (close == std::string::npos) fail(where, ": unclosed '{' in template \"", tmpl, "\"");
    std::string key = tmpl.substr(i + 1, close - i - 1);
    int index = -1;
    if (auto b = key.find('['); b != std::string::npos && key.back() == ']') {
      index = std::atoi(key.substr(b + 1).c_str());
      key = key.substr(0, b);
    }
    auto it = item.find(key);
    if (it == item.end()) fail(where, ": template field '", key, "' is missing");
    const nlohmann::json* v = &*it;
    if (index >= 0) {
      if (!v->is_array() || size_t(index) >= v->size()) fail(where, ": template field '", key, "[", index, "]' is out of range");
      v = &(*v)[size_t(index)];
    }
    out += v->is_string() ? v->get<std::string>() : v->dump();
    i = close + 1;
  }
  return out;
}

namespace {

void check_unique_ids(const Suite& s) {
  std::set<std::string> seen;
  for (size_t i = 0; i < s.items.size(); ++i)
    if (!seen.insert(s.item_id(i)).second) fail(s.data_path, ":", s.items[i].line, ": duplicate item id '", s.item_id(i), "'");
}

Suite from_manifest(const fs::path& dir) {
  Suite s;
  s.source = dir.string();
  const std::string mpath = (dir / "manifest.json").string();
  try {
    s.manifest = nlohmann::json::parse(read_file(mpath));
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a too-large number
    fail(mpath, ": invalid JSON: ", e.what());
  }
  if (!s.manifest.is_object()) fail(mpath, ": must be a JSON object");
  for (const char* k : {"name", "task", "data"})
    if (!s.manifest.contains(k) || !s.manifest[k].is_string()) fail(mpath, ": missing string field '", k, "'");
  s.name = s.manifest["name"];
  s.task = s.manifest["task"];
  s.version = s.get<std::string>("version", "0");
  s.data_path = (dir / s.manifest["data"].get<std::string>()).string();
  s.data_sha256 = sha256_file(s.data_path);
  const std::string want = s.get<std::string>("sha256", "");
  if (!want.empty() && want != s.data_sha256)
    fail(mpath, ": sha256 of ", s.manifest["data"].get<std::string>(), " is ", s.data_sha256, " but the manifest says ", want,
         " (the data changed: update the manifest and bump its version)");
  s.items = read_jsonl(s.data_path);
  if (s.task == "long_context") {
    // The data file is a multiple-choice story suite: each fragment completed with its gold
    // choice is filler text, followed by the sentences of `filler_text` (sha256-checked too).
    for (const auto& r : s.items) {
      const std::string where = s.data_path + ":" + std::to_string(r.line);
      const auto& v = r.value;
      if (!v.contains("context") || !v["context"].is_string() || !v.contains("choices") || !v["choices"].is_array() ||
          !v.contains("answer") || !v["answer"].is_number_integer() || v["answer"].get<int64_t>() < 0 ||
          size_t(v["answer"].get<int64_t>()) >= v["choices"].size() || !v["choices"][v["answer"].get<size_t>()].is_string())
        fail(where, ": a long_context filler item needs string context, choices and an in-range answer");
      s.filler.push_back(v["context"].get<std::string>() + v["choices"][v["answer"].get<size_t>()].get<std::string>());
    }
    s.items.clear();
    const std::string extra = s.get<std::string>("filler_text", "");
    if (!extra.empty()) {
      const std::string path = (dir / extra).string();
      const std::string want_extra = s.get<std::string>("filler_text_sha256", "");
      if (!want_extra.empty() && sha256_file(path) != want_extra)
        fail(mpath, ": sha256 of ", extra, " is ", sha256_file(path), " but the manifest says ", want_extra,
             " (the text changed: update the manifest and bump its version)");
      const std::string text = read_file(path);
      std::string cur;
      auto flush = [&] {
        const size_t a = cur.find_first_not_of(" \t\r\n");
        if (a != std::string::npos) s.filler.push_back(cur.substr(a, cur.find_last_not_of(" \t\r\n") - a + 1));
        cur.clear();
      };
      for (size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        cur += (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : ch;
        if ((ch == '.' || ch == '!' || ch == '?') && (i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n')) flush();
      }
      flush();
    }
    if (s.filler.empty()) fail(mpath, ": no filler text");
  }
  return s;
}

char first_char(const std::string& path) {
  const std::string text = read_maybe_gz(path);
  const size_t p = text.find_first_not_of(" \t\r\n");
  return p == std::string::npos ? '\0' : text[p];
}

std::vector<JsonlRecord> json_array_records(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_maybe_gz(path));
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a too-large number
    fail(path, ": invalid JSON: ", e.what());
  }
  if (!j.is_array()) fail(path, ": expected a JSON array of problems or a SQuAD object");
  std::vector<JsonlRecord> out;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_object()) fail(path, ":", i + 1, ": expected a JSON object, got ", j[i].type_name());
    out.push_back({int64_t(i + 1), j[i]});
  }
  return out;
}

Suite from_public_file(const fs::path& path) {
  Suite s;
  s.source = path.string();
  s.data_path = path.string();
  s.data_sha256 = sha256_file(s.data_path);
  std::string stem = path.filename().string();
  for (const char* ext : {".gz", ".jsonl", ".json", ".txt", ".csv"})
    if (stem.size() > std::strlen(ext) && stem.compare(stem.size() - std::strlen(ext), std::strlen(ext), ext) == 0)
      stem.resize(stem.size() - std::strlen(ext));
  s.name = stem;
  s.version = s.data_sha256.substr(0, 12);
  const std::string f = path.string();
  auto ends = [&](const char* e) { return f.size() >= std::strlen(e) && f.compare(f.size() - std::strlen(e), std::strlen(e), e) == 0; };
  if (ends(".txt")) {
    const std::string text = read_file(f);
    int64_t line = 1, para_line = 1;
    std::string para;
    auto flush = [&] {
      if (para.find_first_not_of(" \t\n") != std::string::npos) s.items.push_back({para_line, {{"text", para}}});
      para.clear();
    };
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string l = text.substr(pos, end - pos);
      if (l.find_first_not_of(" \t\r") == std::string::npos) {
        flush();
        para_line = line + 1;
      } else {
        if (para.empty()) para_line = line;
        para += (para.empty() ? "" : "\n") + l;
      }
      pos = end + 1;
      ++line;
    }
    flush();
    // One paragraph per line also counts as paragraphs when there are no blank lines.
    if (s.items.size() == 1 && text.find('\n') != std::string::npos) {
      s.items.clear();
      int64_t ln = 0;
      size_t p = 0;
      while (p < text.size()) {
        size_t e = text.find('\n', p);
        if (e == std::string::npos) e = text.size();
        ++ln;
        std::string l = text.substr(p, e - p);
        if (l.find_first_not_of(" \t\r") != std::string::npos) s.items.push_back({ln, {{"text", l}}});
        p = e + 1;
      }
    }
    if (s.items.empty()) fail(f, ": no text to score");
    s.task = "perplexity";
    s.manifest = {{"name", s.name}, {"task", "perplexity"}, {"text_field", "text"}, {"metrics", {"ppl", "bits_per_byte"}}};
    return s;
  }
  if (ends(".csv")) return load_mmlu(path);
  if (ends(".json") &&
      first_char(f) == '{') {  // SQuAD: {"data": [{"paragraphs": [{"context", "qas": [{"id", "question", "answers": [{"text"}]}]}]}]}
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_maybe_gz(f));
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a too-large number
      fail(f, ": invalid JSON: ", e.what());
    }
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) fail(f, ": not a SQuAD-style file (expected {\"data\": [...]})");
    int64_t n = 0;
    for (const auto& art : j["data"]) {
      for (const auto& para : art.value("paragraphs", nlohmann::json::array())) {
        const std::string ctx = para.value("context", "");
        for (const auto& qa : para.value("qas", nlohmann::json::array())) {
          std::vector<std::string> answers;
          for (const auto& a : qa.value("answers", nlohmann::json::array()))
            if (a.contains("text") && a["text"].is_string()) answers.push_back(a["text"]);
          if (answers.empty()) continue;  // unanswerable (SQuAD 2.0) items are skipped
          ++n;
          nlohmann::json item{{"context", ctx}, {"question", qa.value("question", "")}, {"answers", answers}};
          if (qa.contains("id")) item["id"] = qa["id"].is_string() ? qa["id"].get<std::string>() : qa["id"].dump();
          s.items.push_back({n, item});
        }
      }
    }
    if (s.items.empty()) fail(f, ": no answerable questions found");
    s.task = "generate";
    s.manifest = {{"name", s.name},
                  {"task", "generate"},
                  {"prompt_template", "Context: {context}\nQuestion: {question}\nAnswer:"},
                  {"answers_field", "answers"},
                  {"stop", {"\n"}},
                  {"max_tokens", 32},
                  {"metrics", {"exact_match", "f1"}}};
    return s;
  }
  if (ends(".json")) {
    // sanitized MBPP: one JSON array of problems (element numbers stand for lines in errors)
    s.items = json_array_records(f);
  } else {
    s.items = read_jsonl(f);
  }
  if (s.items.empty()) fail(f, ": no items");
  {
    std::vector<JsonlRecord> records = std::move(s.items);
    s.items.clear();
    if (convert_public_records(s, records)) return s;
    s.items = std::move(records);
  }
  const auto& first = s.items.front().value;
  const char* format = first.contains("buggy_solution")                                                                  ? "humanevalfix"
                       : first.contains("entry_point") && (first.contains("plus_input") || first.contains("base_input")) ? "evalplus"
                       : first.contains("entry_point") && first.contains("test")                                         ? "humaneval"
                       : first.contains("test_list")                                                                     ? "mbpp"
                                                                                                                         : nullptr;
  if (format) {
    for (const auto& r : s.items) code_problem_from_json(r.value, f, r.line);  // bad items fail now, before any model work
    s.task = "code";
    s.manifest = {{"name", s.name}, {"task", "code"}, {"format", format}};
    if (std::strcmp(format, "mbpp") == 0) {
      s.manifest["stop"] = {"[DONE]"};
      s.manifest["prompt_source"] = "lm-eval tasks/mbpp/mbpp.yaml (the MBPP paper's prompt with the test asserts)";
    } else if (std::strcmp(format, "humanevalfix") == 0) {
      s.manifest["stop"] = {"\ndef ", "\nclass ", "\nif ", "\nprint(", "\n#", "\n@", "\nassert", "\n\"\"\""};
      s.manifest["prompt_source"] = "bigcode-evaluation-harness humanevalfixtests-python, prompt 'instruct'";
    } else {
      s.manifest["prompt_source"] = std::string("HumanEval prompt as is") + (std::strcmp(format, "evalplus") == 0 ? " (EvalPlus)" : "");
    }
  } else if (first.contains("question") && first.contains("answers")) {
    s.task = "generate";
    s.manifest = {{"name", s.name},
                  {"task", "generate"},
                  {"prompt_template", "Context: {context}\nQuestion: {question}\nAnswer:"},
                  {"answers_field", "answers"},
                  {"stop", {"\n"}},
                  {"max_tokens", 32},
                  {"metrics", {"exact_match", "f1"}}};
  } else {
    fail(f, ":", s.items.front().line,
         ": unrecognized item format (expected HellaSwag, ARC, PIQA, Winogrande, BoolQ, GSM8K, HumanEval(+), HumanEvalFix, MBPP "
         "or QA fields, or a suite directory; docs/SUITES.md lists them)");
  }
  return s;
}

}  // namespace

Suite load_suite(const std::string& name_or_path) {
  fs::path p(name_or_path);
  Suite s;
  const fs::path bundled = fs::path(datasets_dir()) / name_or_path;
  const bool bare = name_or_path.find('/') == std::string::npos;
  if (bare && fs::exists(bundled / "manifest.json"))
    s = from_manifest(bundled);  // bundled names win over ./name
  else if (fs::is_directory(p) && is_mmlu_path(p))
    s = load_mmlu(p);
  else if (fs::is_directory(p))
    s = from_manifest(p);
  else if (fs::is_regular_file(p))
    s = from_public_file(p);
  else {
    std::string known;
    for (const auto& n : bundled_suites()) known += (known.empty() ? "" : ", ") + n;
    fail("unknown suite '", name_or_path, "' (bundled: ", known,
         "; or give a suite directory, an MMLU .csv file or directory, or a .jsonl/.json/.txt file)");
  }
  check_unique_ids(s);
  return s;
}

}  // namespace sb
