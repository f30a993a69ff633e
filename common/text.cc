#include "common/text.h"

#include <cstdarg>
#include <cstdio>

namespace sb::text {

size_t utf8_next(std::string_view s, size_t i, uint32_t* cp, Utf8 mode) {
  const auto b = [&](size_t k) { return uint8_t(s[k]); };
  const uint8_t c = b(i);
  if (c < 0x80) return *cp = c, 1;
  size_t n = 0;
  uint32_t v = 0;
  if ((c & 0xE0) == 0xC0)
    n = 2, v = c & 0x1F;
  else if ((c & 0xF0) == 0xE0)
    n = 3, v = c & 0x0F;
  else if ((c & 0xF8) == 0xF0)
    n = 4, v = c & 0x07;
  bool ok = n > 0 && i + n <= s.size();
  for (size_t k = 1; ok && k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) ok = false;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  // strict: overlong forms, surrogates and values past U+10FFFF are invalid
  if (ok && mode == Utf8::strict &&
      ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)))
    ok = false;
  if (!ok) {
    if (mode == Utf8::strict) return 0;
    *cp = 0xFFFD;
    return 1;
  }
  *cp = v;
  return n;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | ((cp >> 18) & 0x07)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char ch : s) n += (uint8_t(ch) & 0xC0) != 0x80;
  return n;
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t k = utf8_next(s, i, &cp);
    if (k) {
      out.append(s.substr(i, k));
      i += k;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t k = utf8_next(s, i, &cp);
    if (!k) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') break;  // not allowed in XML 1.0
        if (cp == 0xFFFE || cp == 0xFFFF) break;
        out.append(s.substr(i, k));
    }
    i += k;
  }
  return out;
}

std::string md_cell(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    if (c == '|')
      o += "\\|";
    else if (c == '\n' || c == '\r')
      o += ' ';
    else if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else
      o += c;
  }
  return o;
}

std::string last_line(std::string_view text) {
  size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
  size_t begin = end == 0 ? std::string_view::npos : text.rfind('\n', end - 1);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  std::string line(text.substr(begin, end - begin));
  size_t lead = 0;
  while (lead < line.size() && (line[lead] == ' ' || line[lead] == '\t')) ++lead;
  line.erase(0, lead);
  for (char& c : line)
    if ((unsigned char)c < 0x20 || c == 0x7f) c = ' ';
  constexpr size_t kMax = 300;
  if (line.size() > kMax) {
    size_t cut = kMax;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line = line.substr(0, cut) + "...";
  }
  return line;
}

std::string format(const char* fmt, ...) {
  char buf[128];
  va_list ap;
  va_start(ap, fmt);
  va_list again;
  va_copy(again, ap);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::string out;
  if (n > 0 && size_t(n) < sizeof buf) {
    out.assign(buf, size_t(n));
  } else if (n > 0) {
    out.resize(size_t(n));
    std::vsnprintf(out.data(), out.size() + 1, fmt, again);
  }
  va_end(again);
  return out;
}

}  // namespace sb::text
