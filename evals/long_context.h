// The long-context task family (suite `long-context`, manifest task "long_context"): does the
// model use its context window? Everything is generated from a seed; the filler ("haystack") is
// the project's own story text (the stories suite's fragments completed with their gold
// choice, then datasets/calibration/stories.txt), read in order from a seeded start sentence
// and wrapping around at its end.
//
// Items (ids in brackets; L = length in the model's own tokens, d = depth in percent):
//   passkey   [passkey/L=512/d=25/3]   "The pass key is 48213. Remember it. 48213 is the pass
//             key." placed in the haystack at depth d (at the sentence boundary nearest to d% of
//             its words), then "What is the pass key? The pass key is"; greedy generation of at
//             most `answer_tokens` tokens, correct when its first word (trailing punctuation
//             dropped) is exactly the key.
//   multikey  [multikey/L=512/d=25/3]  `multikey_facts` facts "The pass key for the red door is
//             48213." with distinct doors and keys; the asked one at depth d, the others at
//             seeded depths; "What is the pass key for the red door? The pass key for the red
//             door is"; scored like passkey.
//   loss      [loss/L=2048/0]          natural filler of exactly L tokens (L = the longest grid
//             length that fits), log-loss of every token; mean per position bucket [1, 16),
//             [16, 32), [32, 64), ... (doubling) up to L - 1.
// Exact lengths: a retrieval prompt has exactly L - answer_tokens tokens (so prompt plus answer
// fit in L), a loss text exactly L tokens, as counted by LanguageModel::count_tokens (BOS
// included). The builder finds the largest number of filler words whose prompt stays within the
// target (binary search), then appends short pads (" .", ".", " a", ...) one token at a time;
// if no pad lands exactly on the target the item fails with sb::Error. Items with L above the
// model's context, or too short to hold the instruction, needle and question, are "skipped"
// rows (score NaN, counted by the `skipped` metric), never truncated.
// Metrics and their names: evals/long_context_names.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "evals/suite.h"

namespace sb {

struct LongContextGrid {
  std::vector<int64_t> lengths;  // empty: 5 lengths halving down from the model's context (>= 64)
  std::vector<int> depths{0, 25, 50, 75, 100};
  int items = 3;       // per (kind, length, depth) cell
  int loss_items = 4;  // loss-by-position texts
  std::vector<std::string> kinds{"passkey", "multikey", "loss"};
  int answer_tokens = 8;
  int multikey_facts = 4;
  uint64_t seed = 20;
  double effective_threshold = 0.1;  // effective_ctx: allowed drop from the shortest length's accuracy
  double effective_min_acc = 0.5;    // effective_ctx is 0 when the shortest length scores below this
};

// Command-line overrides of the manifest's grid (`run --lc-*`); unset fields keep the manifest's.
struct LongContextOverrides {
  std::vector<int64_t> lengths;
  std::vector<int> depths;
  int items = 0, loss_items = 0;  // 0: unset
  bool empty() const { return lengths.empty() && depths.empty() && items == 0 && loss_items == 0; }
};

// The grid of a long_context suite: its manifest fields ("lengths", "depths", "items",
// "loss_items", "kinds", "answer_tokens", "multikey_facts", "seed", "effective_threshold",
// "effective_min_acc") over the defaults above, then `ov`. Bad values throw sb::Error naming
// the manifest (or the option).
LongContextGrid long_context_grid(const Suite& s, const LongContextOverrides& ov = {});
// The grid's lengths for a model whose context is n_ctx tokens.
std::vector<int64_t> long_context_lengths(const LongContextGrid& g, int64_t n_ctx);
// A copy of the suite with one item per grid point for a model with an n_ctx-token context
// (item values: id, kind, length, depth, index), the grid stored in manifest["grid"].
Suite long_context_items(const Suite& s, int64_t n_ctx, const LongContextOverrides& ov = {});

// What the builder produced for one item.
struct LongContextText {
  std::string prompt;         // the text given to the model
  int64_t n_tokens = 0;       // count_tokens(prompt): exactly the target
  int64_t needle_token = -1;  // tokens before the asked needle (retrieval), else -1
  int64_t filler_words = 0;
  int pads = 0;  // pad strings appended to hit the target
};

// Token counter of the model under test.
using TokenCounter = std::function<int64_t(const std::string&)>;

// A retrieval prompt or loss text for one item (an item value of long_context_items) from the
// filler sentences, with exactly `target` tokens; nullopt when even zero filler words exceed the
// target. Deterministic for (item, grid seed, filler, counter). Fills key/door answers into
// `answer` ("" for loss items).
std::optional<LongContextText> build_long_context_text(const nlohmann::json& item, const LongContextGrid& g,
                                                       const std::vector<std::string>& filler, int64_t target, const TokenCounter& count,
                                                       std::string& answer);

// Whether a generated answer matches the key: its first whitespace-separated word, with trailing
// punctuation (. , ; : ! ?) removed, equals `key` exactly.
bool long_context_answer_matches(const std::string& output, const std::string& key);

// Position buckets of the loss texts of length `length`: [1, 16), [16, 32), ... as [lo, hi]
// inclusive pairs, the last ending at length - 1.
std::vector<std::pair<int64_t, int64_t>> loss_buckets(int64_t length);

}  // namespace sb
