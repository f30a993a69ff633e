// StopText: the text of a generated token stream with stop strings applied, released in
// pieces that can never be taken back (shared by generate() and the server).
//
// push(id) appends the token's text (IncrementalDecoder: incomplete UTF-8 is held back) and
// looks for a stop string in the region the new text could have completed; when one is found
// the text is cut before the earliest one and push returns true. release(last) returns the
// newly releasable text: everything when `last` (the decoder is flushed first unless a stop
// string ended the text), otherwise all but the longest suffix that is a proper prefix of some
// stop string. The concatenation of the released pieces is always text().
// end() ends the stream without more text (an end-of-generation token; bytes of an incomplete
// UTF-8 sequence still held back are dropped, not flushed).
// Empty stop strings are an sb::Error (constructor). Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace sb {

class StopText {
 public:
  StopText(const Tokenizer& tok, std::vector<std::string> stop);
  bool push(int32_t id);
  void end() { stopped_ = true; }
  std::string release(bool last);
  const std::string& text() const { return text_; }
  bool stopped() const { return stopped_; }

 private:
  IncrementalDecoder dec_;
  std::vector<std::string> stop_;
  std::string text_;
  size_t emitted_ = 0;  // bytes of text_ already released
  bool stopped_ = false;
};

}  // namespace sb
