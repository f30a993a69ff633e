// JSON Lines input: one JSON value per line, plain or gzip-compressed (".gz", read with zlib).
// Blank lines are skipped. Malformed input throws sb::Error "FILE:LINE: <what is wrong>".
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sb {

struct JsonlRecord {
  int64_t line = 0;  // 1-based line number in the file
  nlohmann::json value;
};

// Reads a whole file (.gz transparently).
std::string read_maybe_gz(const std::string& path);
// Parses every non-blank line; each must be a JSON object.
std::vector<JsonlRecord> read_jsonl(const std::string& path);

// Field access with one-line errors naming "FILE:LINE: field 'x' ...".
const nlohmann::json& require_field(const JsonlRecord& r, const std::string& file, const char* field);
std::string require_string(const JsonlRecord& r, const std::string& file, const char* field);

}  // namespace sb
