#include "evals/public_formats.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <regex>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/core/sha256.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace sb {
namespace {

std::string strip(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n\f\v");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n\f\v") - a + 1);
}

// Python str.replace: one left-to-right pass over non-overlapping matches.
std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    const size_t f = s.find(from, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += to;
    pos = f + from.size();
  }
  out.append(s, pos, std::string::npos);
  return out;
}

// Python str.capitalize for ASCII: first character upper case, the rest lower case.
std::string capitalize(std::string s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) s[i] = char(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return s;
}

std::string where(const std::string& path, const JsonlRecord& r) { return path + ":" + std::to_string(r.line); }

std::string str_field(const std::string& path, const JsonlRecord& r, const char* key) {
  auto it = r.value.find(key);
  if (it == r.value.end()) fail(where(path, r), ": missing field '", key, "'");
  if (!it->is_string()) fail(where(path, r), ": field '", key, "' must be a string, got ", it->type_name());
  return it->get<std::string>();
}

// An integer label given as a number or a string of digits ("2").
int int_field(const std::string& path, const JsonlRecord& r, const char* key) {
  auto it = r.value.find(key);
  if (it == r.value.end()) fail(where(path, r), ": missing field '", key, "'");
  if (it->is_number_integer()) return it->get<int>();
  if (it->is_string()) {
    const std::string v = strip(it->get<std::string>());
    if (!v.empty() && v.size() < 9 && std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return std::stoi(v);
    if (v.empty()) fail(where(path, r), ": field '", key, "' is empty (an unlabelled test split cannot be scored)");
  }
  fail(where(path, r), ": field '", key, "' must be an integer label, got ", it->dump());
}

json mc_item(const JsonlRecord& r, const std::string& query, const std::vector<std::string>& texts, int gold, const std::string& path) {
  if (gold < 0 || size_t(gold) >= texts.size())
    fail(where(path, r), ": the answer (", gold, ") is not one of the ", texts.size(), " choices");
  json choices = json::array();
  for (const auto& t : texts) choices.push_back(" " + t);  // lm-eval's target_delimiter
  json item{{"query", query}, {"choices", choices}, {"answer", gold}};
  for (const char* k : {"id", "qID", "ind"}) {
    auto it = r.value.find(k);
    if (it != r.value.end() && it->is_string()) {
      item["id"] = it->get<std::string>();
      break;
    }
  }
  return item;
}

json mc_manifest(const Suite& s, const std::string& format, const std::string& source) {
  return {{"name", s.name},
          {"task", "multiple_choice"},
          {"format", format},
          {"prompt_template", "{query}"},
          {"choices_field", "choices"},
          {"answer_field", "answer"},
          {"metrics", {"acc", "acc_norm"}},
          {"prompt_source", source}};
}

bool has(const json& j, const char* k) { return j.contains(k); }

void convert_hellaswag(Suite& s, const std::vector<JsonlRecord>& recs) {
  for (const auto& r : recs) {
    std::string ctx;
    if (has(r.value, "ctx_a"))
      ctx = str_field(s.data_path, r, "ctx_a") + " " + capitalize(str_field(s.data_path, r, "ctx_b"));
    else
      ctx = str_field(s.data_path, r, "ctx");
    const std::string label = has(r.value, "activity_label") ? str_field(s.data_path, r, "activity_label") : "";
    const std::string query = hellaswag_preprocess(label.empty() ? ctx : label + ": " + ctx);
    const auto& e = r.value["endings"];
    if (!e.is_array() || e.size() < 2) fail(where(s.data_path, r), ": field 'endings' must be a list of at least 2 strings");
    std::vector<std::string> texts;
    for (const auto& x : e) {
      if (!x.is_string()) fail(where(s.data_path, r), ": field 'endings' must hold strings");
      texts.push_back(hellaswag_preprocess(x.get<std::string>()));
    }
    s.items.push_back({r.line, mc_item(r, query, texts, int_field(s.data_path, r, "label"), s.data_path)});
  }
  s.manifest = mc_manifest(s, "hellaswag", "lm-eval tasks/hellaswag/hellaswag.yaml + utils.preprocess");
}

void convert_arc(Suite& s, const std::vector<JsonlRecord>& recs) {
  for (const auto& r : recs) {
    const std::string w = where(s.data_path, r);
    const auto& q = r.value["question"];
    if (!q.is_object() || !q.contains("stem") || !q["stem"].is_string())
      fail(w, ": field 'question' must be an object with a string 'stem'");
    const auto& c = q.contains("choices") ? q["choices"] : json();
    if (!c.is_array() || c.size() < 2) fail(w, ": field 'question.choices' must be a list of at least 2 {label, text} objects");
    std::vector<std::string> texts, labels;
    for (const auto& x : c) {
      if (!x.is_object() || !x.contains("text") || !x["text"].is_string() || !x.contains("label") || !x["label"].is_string())
        fail(w, ": every entry of 'question.choices' needs string 'label' and 'text'");
      texts.push_back(x["text"]);
      labels.push_back(x["label"]);
    }
    std::string key = strip(str_field(s.data_path, r, "answerKey"));
    int gold = int(std::find(labels.begin(), labels.end(), key) - labels.begin());
    // A digit answerKey with letter labels ("1" for A), as in some ARC releases.
    if (size_t(gold) == labels.size() && key.size() == 1 && key[0] >= '1' && key[0] <= '9') gold = key[0] - '1';
    if (size_t(gold) >= labels.size()) fail(w, ": answerKey '", key, "' is not one of the choice labels");
    s.items.push_back({r.line, mc_item(r, "Question: " + q["stem"].get<std::string>() + "\nAnswer:", texts, gold, s.data_path)});
  }
  s.manifest = mc_manifest(s, "arc", "lm-eval tasks/arc/arc_easy.yaml (arc_challenge shares it)");
}

// PIQA's labels live in a separate FILE-labels.lst (one 0/1 a line) in the original release.
void convert_piqa(Suite& s, const std::vector<JsonlRecord>& recs) {
  std::vector<int> labels;
  std::string labels_path;
  if (!has(recs.front().value, "label")) {
    std::string stem = fs::path(s.data_path).filename().string();
    for (const char* ext : {".gz", ".jsonl"})
      if (stem.size() > std::strlen(ext) && stem.compare(stem.size() - std::strlen(ext), std::strlen(ext), ext) == 0)
        stem.resize(stem.size() - std::strlen(ext));
    labels_path = (fs::path(s.data_path).parent_path() / (stem + "-labels.lst")).string();
    if (!fs::exists(labels_path)) fail(s.data_path, ": PIQA items without 'label' need their labels in ", labels_path);
    std::ifstream in(labels_path);
    std::string line;
    int64_t ln = 0;
    while (std::getline(in, line)) {
      ++ln;
      line = strip(line);
      if (line.empty()) continue;
      if (line != "0" && line != "1") fail(labels_path, ":", ln, ": expected 0 or 1, got '", line, "'");
      labels.push_back(line == "1");
    }
    if (labels.size() != recs.size()) fail(labels_path, ": ", labels.size(), " labels for ", recs.size(), " items of ", s.data_path);
    s.manifest["labels_sha256"] = sha256_file(labels_path);
  }
  for (size_t i = 0; i < recs.size(); ++i) {
    const auto& r = recs[i];
    const int gold = labels.empty() ? int_field(s.data_path, r, "label") : labels[i];
    s.items.push_back({r.line, mc_item(r, "Question: " + str_field(s.data_path, r, "goal") + "\nAnswer:",
                                       {str_field(s.data_path, r, "sol1"), str_field(s.data_path, r, "sol2")}, gold, s.data_path)});
  }
  json m = mc_manifest(s, "piqa", "lm-eval tasks/piqa/piqa.yaml");
  if (s.manifest.contains("labels_sha256")) m["labels_sha256"] = s.manifest["labels_sha256"];
  s.manifest = m;
}

void convert_winogrande(Suite& s, const std::vector<JsonlRecord>& recs) {
  for (const auto& r : recs) {
    const std::string sentence = str_field(s.data_path, r, "sentence");
    const size_t blank = sentence.find('_');
    if (blank == std::string::npos) fail(where(s.data_path, r), ": field 'sentence' has no '_' blank");
    const int answer = int_field(s.data_path, r, "answer");
    if (answer != 1 && answer != 2) fail(where(s.data_path, r), ": field 'answer' must be 1 or 2, got ", answer);
    const std::string prefix = sentence.substr(0, blank);
    const std::string rest = strip(sentence.substr(blank + 1));
    json item = mc_item(r, "", {rest, rest}, answer - 1, s.data_path);
    item.erase("query");
    item["contexts"] = {prefix + str_field(s.data_path, r, "option1"), prefix + str_field(s.data_path, r, "option2")};
    s.items.push_back({r.line, item});
  }
  json m = mc_manifest(s, "winogrande", "lm-eval tasks/winogrande/default.yaml + preprocess_winogrande.py (partial scoring)");
  m.erase("prompt_template");
  m["contexts_field"] = "contexts";
  m["metrics"] = {"acc"};
  s.manifest = m;
}

void convert_boolq(Suite& s, const std::vector<JsonlRecord>& recs) {
  for (const auto& r : recs) {
    int gold;
    auto a = r.value.find("answer");
    if (a != r.value.end() && a->is_boolean())
      gold = a->get<bool>() ? 1 : 0;
    else if (r.value.contains("label"))
      gold = int_field(s.data_path, r, "label");
    else
      fail(where(s.data_path, r), ": field 'answer' must be true or false");
    const std::string q = str_field(s.data_path, r, "passage") + "\nQuestion: " + str_field(s.data_path, r, "question") + "?\nAnswer:";
    s.items.push_back({r.line, mc_item(r, q, {"no", "yes"}, gold, s.data_path)});
  }
  s.manifest = mc_manifest(s, "boolq", "lm-eval tasks/super_glue/boolq/default.yaml");
}

void convert_gsm8k(Suite& s, const std::vector<JsonlRecord>& recs) {
  for (const auto& r : recs) {
    const std::string answer = str_field(s.data_path, r, "answer");
    const std::string gold = gsm8k_gold(answer);
    if (gold.empty()) fail(where(s.data_path, r), ": field 'answer' has no final '#### N' line");
    json item{{"question", str_field(s.data_path, r, "question")}, {"answer", answer}, {"answers", {gold}}};
    s.items.push_back({r.line, item});
  }
  s.manifest = {{"name", s.name},
                {"task", "generate"},
                {"format", "gsm8k"},
                {"prompt_template", "Question: {question}\nAnswer:"},
                {"target_template", " {answer}"},
                {"answers_field", "answers"},
                {"extract", "gsm8k"},
                {"stop", {"Question:", "</s>", "<|im_end|>"}},
                {"max_tokens", 256},
                {"few_shot", {{"k", 8}, {"from", "fewshot/gsm8k-cot.jsonl"}, {"sampler", "first_n"}}},
                {"metrics", {"exact_match", "exact_match_flexible"}},
                {"prompt_source", "lm-eval tasks/gsm8k/gsm8k.yaml (prompt, stop, filters); 8 chain-of-thought shots as Wei et al."}};
}

std::string subject_of(const fs::path& csv) {
  std::string stem = csv.stem().string();
  for (const char* suf : {"_test", "_dev", "_val"})
    if (stem.size() > std::strlen(suf) && stem.compare(stem.size() - std::strlen(suf), std::strlen(suf), suf) == 0)
      stem.resize(stem.size() - std::strlen(suf));
  return stem;
}

}  // namespace

std::string hellaswag_preprocess(const std::string& text) {
  std::string t = replace_all(strip(text), " [title]", ". ");
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {  // re.sub("\\[.*?\\]", "", t)
    if (t[i] == '[') {
      const size_t close = t.find(']', i + 1);
      if (close != std::string::npos) {
        i = close;
        continue;
      }
    }
    out += t[i];
  }
  return replace_all(out, "  ", " ");
}

std::string gsm8k_gold(const std::string& answer) {
  const size_t p = answer.rfind("####");
  if (p == std::string::npos) return "";
  std::string g = strip(answer.substr(p + 4));
  g.erase(std::remove(g.begin(), g.end(), ','), g.end());
  return g;
}

namespace {
std::string clean_number(std::string n) {
  n.erase(std::remove_if(n.begin(), n.end(), [](char c) { return c == ',' || c == '$'; }), n.end());
  while (!n.empty() && n.back() == '.') n.pop_back();
  return n;
}
}  // namespace

std::string gsm8k_strict(const std::string& text) {
  static const std::regex re("#### (\\-?[0-9\\.\\,]+)");
  std::smatch m;
  return std::regex_search(text, m, re) ? clean_number(m[1].str()) : "";
}

std::string gsm8k_flexible(const std::string& text) {
  static const std::regex re("(-?[$0-9.,]{2,})|(-?[0-9]+)");
  std::string last;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    last = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
  return clean_number(last);
}

bool convert_public_records(Suite& s, const std::vector<JsonlRecord>& records) {
  if (records.empty()) return false;
  const json& f = records.front().value;
  if (has(f, "endings") && (has(f, "ctx") || has(f, "ctx_a")))
    convert_hellaswag(s, records);
  else if (has(f, "question") && f["question"].is_object() && has(f, "answerKey"))
    convert_arc(s, records);
  else if (has(f, "goal") && has(f, "sol1") && has(f, "sol2"))
    convert_piqa(s, records);
  else if (has(f, "sentence") && has(f, "option1") && has(f, "option2"))
    convert_winogrande(s, records);
  else if (has(f, "passage") && has(f, "question") && (has(f, "answer") || has(f, "label")))
    convert_boolq(s, records);
  else if (has(f, "question") && has(f, "answer") && f["answer"].is_string() &&
           f["answer"].get<std::string>().find("####") != std::string::npos)
    convert_gsm8k(s, records);
  else
    return false;
  s.task = s.manifest["task"];
  return true;
}

std::vector<CsvRow> parse_csv(const std::string& text, const std::string& path) {
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  bool quoted = false, any = false;
  int64_t line = 1, quote_line = 0;
  row.line = 1;
  auto end_row = [&] {
    if (any || !field.empty() || !row.fields.empty()) {
      row.fields.push_back(field);
      rows.push_back(row);
    }
    row = CsvRow{};
    field.clear();
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = any = true;
      quote_line = line;
    } else if (c == ',') {
      row.fields.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;
    } else if (c == '\n') {
      end_row();
      ++line;
      row.line = line;
    } else {
      field += c;
    }
  }
  if (quoted) fail(path, ":", quote_line, ": unterminated quoted field");
  end_row();
  return rows;
}

bool is_mmlu_path(const fs::path& p) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p.extension() == ".csv";
  if (!fs::is_directory(p, ec) || fs::exists(p / "manifest.json")) return false;
  for (const auto& e : fs::directory_iterator(p, ec))
    if (e.is_regular_file() && e.path().extension() == ".csv") return true;
  return false;
}

Suite load_mmlu(const fs::path& p) {
  Suite s;
  s.source = s.data_path = p.string();
  std::vector<fs::path> files;
  if (fs::is_directory(p)) {
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_regular_file() && e.path().extension() == ".csv") files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(p);
  }
  std::string hashes;
  std::string name = p.filename().string();
  if (name.empty()) name = p.parent_path().filename().string();
  s.name = fs::is_directory(p) ? name : subject_of(p);
  for (const auto& f : files) {
    const std::string fp = f.string();
    const std::string subject = subject_of(f);
    std::string pretty = replace_all(subject, "_", " ");
    const std::string text = read_file(fp);
    hashes += sha256_hex(text);
    int n = 0;
    for (const auto& row : parse_csv(text, fp)) {
      const std::string w = fp + ":" + std::to_string(row.line);
      if (row.fields.size() != 6) fail(w, ": expected 6 fields (question,A,B,C,D,answer), got ", row.fields.size());
      const std::string ans = strip(row.fields[5]);
      if (ans.size() != 1 || ans[0] < 'A' || ans[0] > 'D') fail(w, ": answer must be A, B, C or D, got '", ans, "'");
      const std::string query = strip(row.fields[0]) + "\nA. " + row.fields[1] + "\nB. " + row.fields[2] + "\nC. " + row.fields[3] +
                                "\nD. " + row.fields[4] + "\nAnswer:";
      json item{{"id", subject + "/" + std::to_string(n++)},
                {"subject", subject},
                {"description", "The following are multiple choice questions (with answers) about " + pretty + ".\n\n"},
                {"query", query},
                {"choices", {" A", " B", " C", " D"}},
                {"answer", ans[0] - 'A'},
                {"file", f.filename().string()}};
      s.items.push_back({row.line, item});
    }
  }
  if (s.items.empty()) fail(p.string(), ": no MMLU rows (expected headerless question,A,B,C,D,answer CSV)");
  s.data_sha256 = files.size() == 1 ? sha256_hex(read_file(files[0].string())) : sha256_hex(hashes);
  s.version = s.data_sha256.substr(0, 12);
  s.task = "multiple_choice";
  s.manifest = {{"name", s.name},
                {"task", "multiple_choice"},
                {"format", "mmlu"},
                {"prompt_template", "{query}"},
                {"choices_field", "choices"},
                {"answer_field", "answer"},
                {"description_field", "description"},
                {"group_field", "subject"},
                {"few_shot", {{"same_field", "subject"}}},
                {"metrics", {"acc"}},
                {"prompt_source", "lm-eval tasks/mmlu/default/_default_template_yaml (+ per-subject description)"}};
  return s;
}

}  // namespace sb
