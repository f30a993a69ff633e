// sb::Error: the one exception type sparkbench throws for expected failures (bad input files,
// malformed data, unsupported configurations, failed system calls). Its message is a single
// line that names the file/field/position at fault; the CLI prints it as `error: <message>` and
// exits non-zero. Programming errors are not reported through it (they assert).
#pragma once

#include <stdexcept>
#include <string>
#include <sstream>

namespace sb {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// Concatenates the arguments with operator<< into one message.
template <class... A>
std::string cat(const A&... a) {
  std::ostringstream os;
  detail::append(os, a...);
  return os.str();
}

// Throws sb::Error with the concatenated message.
template <class... A>
[[noreturn]] void fail(const A&... a) {
  throw Error(cat(a...));
}

}  // namespace sb
