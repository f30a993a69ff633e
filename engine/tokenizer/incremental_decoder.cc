// IncrementalDecoder: streaming detokenization that never splits a UTF-8 sequence.
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace sb {

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tok) : tok_(tok) {}

std::string IncrementalDecoder::push(int32_t id) {
  pending_ += tok_.token_to_piece(id);
  std::string out;
  const size_t used = tok::sanitize_utf8(pending_, out, /*final=*/false);
  pending_.erase(0, used);
  return out;
}

std::string IncrementalDecoder::flush() {
  std::string out;
  tok::sanitize_utf8(pending_, out, /*final=*/true);
  pending_.clear();
  return out;
}

}  // namespace sb
