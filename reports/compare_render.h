// compare, the rendering half: a Result (reports/compare_decide.h) as a terminal table,
// Markdown, JUnit XML or JSON. No decisions here.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "reports/compare_decide.h"

namespace sb::compare {

// Renderers. The table is for a terminal (fixed-width text); Markdown is a pull-request comment;
// JUnit XML has one testsuite per kind and one testcase per row (failure = regression,
// skipped = incomparable, warnings in system-out); JSON holds every field.
std::string format_table(const Result& r);
std::string format_markdown(const Result& r);
std::string format_junit(const Result& r);
nlohmann::json to_json(const Result& r);

}  // namespace sb::compare
