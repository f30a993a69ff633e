#include "evals/jsonl.h"

#include <zlib.h>

#include <cstring>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"

namespace sb {

std::string read_maybe_gz(const std::string& path) {
  if (path.size() < 3 || path.compare(path.size() - 3, 3, ".gz") != 0) return read_file(path);
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, ": cannot open: ", std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      fail(path, ": gzip error: ", msg);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  gzclose(f);
  return out;
}

std::vector<JsonlRecord> read_jsonl(const std::string& path) {
  const std::string text = read_maybe_gz(path);
  std::vector<JsonlRecord> out;
  size_t pos = 0;
  int64_t line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string_view l(text.data() + pos, end - pos);
    pos = end + 1;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.find_first_not_of(" \t") == std::string_view::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(l);
    } catch (const nlohmann::json::parse_error& e) {
      fail(path, ":", line, ": invalid JSON at column ", e.byte, ": ", std::string(e.what()).substr(std::string(e.what()).find(':') + 2));
    } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double (out_of_range)
      fail(path, ":", line, ": invalid JSON: ", std::string(e.what()).substr(std::string(e.what()).find(']') + 2));
    }
    if (!j.is_object()) fail(path, ":", line, ": expected a JSON object, got ", j.type_name());
    out.push_back({line, std::move(j)});
  }
  return out;
}

const nlohmann::json& require_field(const JsonlRecord& r, const std::string& file, const char* field) {
  auto it = r.value.find(field);
  if (it == r.value.end()) fail(file, ":", r.line, ": missing field '", field, "'");
  return *it;
}

std::string require_string(const JsonlRecord& r, const std::string& file, const char* field) {
  const auto& v = require_field(r, file, field);
  if (!v.is_string()) fail(file, ":", r.line, ": field '", field, "' must be a string, got ", v.type_name());
  return v.get<std::string>();
}

}  // namespace sb
