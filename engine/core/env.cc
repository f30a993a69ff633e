#include "engine/core/env.h"

#include <cstdlib>
#include <string>

#include "engine/core/error.h"

namespace sb {

int env_choice(const char* name, std::initializer_list<const char*> values, int def) {
  const char* e = std::getenv(name);
  if (!e || !*e) return def;
  std::string list;
  int i = 0;
  for (const char* v : values) {
    if (std::string(e) == v) return i;
    ++i;
    list += (list.empty() ? "" : i == int(values.size()) ? " or " : ", ") + std::string(v);
  }
  fail(name, " must be ", list, ", not '", e, "'");
}

}  // namespace sb
