// ChatTemplate: renders a model's chat template (GGUF `tokenizer.chat_template`, a Jinja2
// program) with the real Jinja2 library, the way Hugging Face transformers'
// apply_chat_template does, so instruction-tuned models are evaluated with the prompts they
// were trained on.
//
// How: one long-lived helper process per ChatTemplate, `python3 -I -c <embedded source>`
// (no script file, isolated mode: no user site-packages, no PYTHON* variables, no current
// directory on sys.path), speaking JSON lines over its stdin/stdout (a socket pair; stderr is
// captured for messages). The template is compiled once at start-up in Jinja2's
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols
// extension, the `raise_exception(msg)` and `strftime_now(fmt)` globals and HF's `tojson`
// filter (json.dumps, no HTML escaping); each render() passes `messages` (a list of
// {role, content}), `add_generation_prompt`, `bos_token` and `eos_token` (`tools` is left
// undefined). The returned text is exactly what Jinja2 produced (no stripping).
//
// Interpreter: $SPARKBENCH_PYTHON when set, else /usr/bin/python3 (Debian's, where
// python3-jinja2 installs). Its environment is just PATH=/usr/bin:/bin.
//
// Failures are sb::Error with one line that names the template (`name`):
//   - the interpreter cannot be started, or jinja2 cannot be imported (says which package to
//     install);
//   - a template syntax error (with its line number) - from the constructor;
//   - an error raised while rendering (raise_exception, undefined operations, sandbox
//     violations) - from render(); the helper stays usable afterwards;
//   - the helper dies (its last stderr line is quoted) or does not answer within `timeout_s`
//     (`start_timeout_s` at start-up; it is killed): never a hang. After that every render()
//     fails at once with the same message.
// Not thread-safe: one caller at a time. The destructor closes the pipe and reaps the helper
// (SIGKILL after 2 s). Writes use MSG_NOSIGNAL, so a dead helper never raises SIGPIPE.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sb {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

class ChatTemplate {
 public:
  struct Options {
    std::string source;     // the Jinja2 template text
    std::string name;       // for messages: "model.gguf (tokenizer.chat_template)" or a file
    std::string bos_token;  // texts of the vocab's BOS / EOS tokens ("" when it has none)
    std::string eos_token;
    double timeout_s = 60;        // per render
    double start_timeout_s = 60;  // start-up: interpreter, jinja2 import, template compilation
  };

  explicit ChatTemplate(Options opt);
  ~ChatTemplate();
  ChatTemplate(const ChatTemplate&) = delete;
  ChatTemplate& operator=(const ChatTemplate&) = delete;

  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

  const std::string& source() const { return opt_.source; }
  const std::string& name() const { return opt_.name; }
  // "jinja2 3.1.2 (python 3.11.2)", reported by the helper at start-up.
  const std::string& engine_version() const { return version_; }

  // The interpreter used: $SPARKBENCH_PYTHON or /usr/bin/python3.
  static std::string python_path();

 private:
  // Sends one JSON line and reads one back; throws (after killing the helper) on death/timeout.
  std::string request(const std::string& line, double timeout_s);
  [[noreturn]] void die(const std::string& what);
  // The answer's JSON object; its "error" as sb::Error when "ok" is not true.
  nlohmann::json parse_answer(const std::string& line) const;
  void stop();
  void keep_stderr(const char* data, size_t n);  // the last 32-64 KiB of the helper's stderr

  Options opt_;
  std::string version_;
  pid_t pid_ = -1;
  int sock_ = -1;    // our end of the stdin/stdout socket pair
  int err_fd_ = -1;  // read end of the helper's stderr
  std::string inbuf_, errbuf_;
  std::string dead_;  // set once the helper is gone: why
};

}  // namespace sb
