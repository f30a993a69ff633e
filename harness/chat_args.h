// Chat options shared by `generate` and `run` (--chat, --chat-template FILE, --system TEXT and,
// for run, --chat-scoring) and the code that turns them into a ChatTemplate
// (evals/chat_template.h) and into the identity the request cache and run records use.
//
// Contract
// - Without --chat nothing changes: open_chat_template() returns null, set_chat_identity()
//   leaves the settings' chat fields empty and chat_config() is null, so plain runs keep their
//   cache keys and configurations.
// - The template is --chat-template's file when given, else the model's
//   `tokenizer.chat_template`; a model without one and no file is an sb::Error
//   ("FILE has no tokenizer.chat_template; pass --chat-template FILE"). bos_token/eos_token are
//   the texts of the vocab's BOS/EOS tokens.
// - set_chat_identity() hands the template text, the system text and whether log-likelihood
//   contexts are chat-formatted to the engine's settings; EngineLM::identity() (evals/engine_lm.h)
//   folds their SHA-256 in, so results are never reused across templates, system prompts or modes.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "evals/chat_template.h"
#include "evals/engine_lm.h"

namespace sb::cli {

struct ChatArgs {
  bool chat = false;
  std::string template_file;  // --chat-template
  std::string system;         // --system
  bool scoring = false;       // --chat-scoring (run): log-likelihood contexts chat-formatted too
};

// Adds --chat, --chat-template, --system (and --chat-scoring when `scoring_flag`); the last
// ones need --chat.
void add_chat_args(CLI::App* cmd, ChatArgs& a, bool scoring_flag);

// Null without --chat. Throws sb::Error as described above (and as ChatTemplate does).
std::unique_ptr<ChatTemplate> open_chat_template(const ChatArgs& a, const GgufFile& model, const Tokenizer& tok);

// Sets the chat fields of `s` (template and system text, scoring mode); nothing without --chat.
void set_chat_identity(const ChatArgs& a, const ChatTemplate* t, EngineLMSettings& s);
// null without --chat, else {"template_sha256", "template_source", "system", "scoring"}.
nlohmann::json chat_config(const ChatArgs& a, const ChatTemplate* t);

}  // namespace sb::cli
