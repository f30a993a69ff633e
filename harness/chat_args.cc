#include "harness/chat_args.h"

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/core/sha256.h"

namespace sb::cli {

void add_chat_args(CLI::App* cmd, ChatArgs& a, bool scoring_flag) {
  auto* chat = cmd->add_flag("--chat", a.chat,
                             std::string("Prompt as a chat: the prompt becomes a user message rendered by the model's chat template "
                                         "(tokenizer.chat_template) with real Jinja2 (python3-jinja2)") +
                                 (scoring_flag ? "; applies to generate and dialogue tasks" : ""));
  cmd->add_option("--chat-template", a.template_file, "Jinja2 chat template file used instead of the model's")->needs(chat);
  cmd->add_option("--system", a.system, "System message sent before the user message")->needs(chat);
  if (scoring_flag)
    cmd->add_flag("--chat-scoring", a.scoring,
                  "Chat-format log-likelihood contexts too (multiple choice, dialogue selection; default: plain text)")
        ->needs(chat);
}

std::unique_ptr<ChatTemplate> open_chat_template(const ChatArgs& a, const GgufFile& model, const Tokenizer& tok) {
  if (!a.chat) return nullptr;
  ChatTemplate::Options o;
  if (!a.template_file.empty()) {
    o.source = read_file(a.template_file);
    o.name = a.template_file;
  } else {
    const GgufValue* v = model.find("tokenizer.chat_template");
    if (!v) fail(model.name(), " has no tokenizer.chat_template; pass --chat-template FILE to use --chat");
    o.source = model.get_string("tokenizer.chat_template", "");
    o.name = model.name() + " (tokenizer.chat_template)";
  }
  if (tok.bos_id() >= 0) o.bos_token = tok.token_text(tok.bos_id());
  if (tok.eos_id() >= 0) o.eos_token = tok.token_text(tok.eos_id());
  return std::make_unique<ChatTemplate>(std::move(o));
}

void set_chat_identity(const ChatArgs& a, const ChatTemplate* t, EngineLMSettings& s) {
  if (!a.chat || !t) return;
  s.chat_template = t->source();
  s.chat_system = a.system;
  s.chat_scoring = a.scoring;
}

nlohmann::json chat_config(const ChatArgs& a, const ChatTemplate* t) {
  if (!a.chat || !t) return nullptr;
  return {{"template_sha256", sha256_hex(t->source())}, {"template_source", t->name()}, {"system", a.system}, {"scoring", a.scoring}};
}

}  // namespace sb::cli
