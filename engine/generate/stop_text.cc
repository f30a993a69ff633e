#include "engine/generate/stop_text.h"

#include <algorithm>

#include "engine/core/error.h"

namespace sb {

namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t holdback(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > best; --len) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        best = len;
        break;
      }
    }
  }
  return best;
}

}  // namespace

StopText::StopText(const Tokenizer& tok, std::vector<std::string> stop) : dec_(tok), stop_(std::move(stop)) {
  for (const auto& s : stop_)
    if (s.empty()) fail("generate: empty stop string");
}

bool StopText::push(int32_t id) {
  if (stopped_) return true;
  text_ += dec_.push(id);
  size_t cut = std::string::npos;
  for (const auto& s : stop_) {
    const size_t from = emitted_ > s.size() ? emitted_ - s.size() : 0;
    const size_t at = text_.find(s, from);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  if (cut != std::string::npos) {
    text_.resize(cut);
    stopped_ = true;
  }
  return stopped_;
}

std::string StopText::release(bool last) {
  if (last && !stopped_) text_ += dec_.flush();
  const size_t releasable = last || stopped_ ? text_.size() : text_.size() - holdback(text_, stop_);
  std::string out = releasable > emitted_ ? text_.substr(emitted_, releasable - emitted_) : std::string();
  emitted_ = std::max(emitted_, releasable);
  return out;
}

}  // namespace sb
