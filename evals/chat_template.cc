#include "evals/chat_template.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "engine/core/error.h"
#include "evals/subprocess.h"

namespace sb {
namespace {

// The helper. Protocol (one JSON object per line, ASCII, both ways):
//   -> {"template": str, "bos_token": str, "eos_token": str}
//   <- {"ok": true, "version": str} | {"ok": false, "error": str} (and it exits)
//   then per request:
//   -> {"messages": [{"role": str, "content": str}, ...], "add_generation_prompt": bool}
//   <- {"ok": true, "text": str} | {"ok": false, "error": str}
// It exits at end of input. The environment mirrors transformers' _compile_jinja_template.
constexpr const char* kChatHelperPy = R"PY(
import sys, json

def _main():
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    def reply(obj):
        out.write(json.dumps(obj, ensure_ascii=True).encode('ascii') + b'\n')
        out.flush()
    def one_line(e):
        return ' '.join(('%s: %s' % (type(e).__name__, e)).split())
    line = inp.readline()
    if not line:
        return
    init = json.loads(line)
    try:
        import platform, datetime
        import jinja2, jinja2.ext, jinja2.sandbox
    except Exception as e:
        reply({'ok': False, 'error': 'cannot import jinja2 (%s); install python3-jinja2' % one_line(e)})
        return
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)
    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    def strftime_now(fmt):
        return datetime.datetime.now().strftime(fmt)
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = strftime_now
    try:
        tmpl = env.from_string(init['template'])
    except jinja2.exceptions.TemplateSyntaxError as e:
        reply({'ok': False, 'error': 'syntax error at line %s: %s' % (e.lineno, ' '.join(str(e.message).split()))})
        return
    except Exception as e:
        reply({'ok': False, 'error': one_line(e)})
        return
    reply({'ok': True, 'version': 'jinja2 %s (python %s)' % (jinja2.__version__, platform.python_version())})
    for line in inp:
        try:
            req = json.loads(line)
            text = tmpl.render(messages=req['messages'], add_generation_prompt=bool(req['add_generation_prompt']),
                               bos_token=init['bos_token'], eos_token=init['eos_token'])
        except jinja2.exceptions.TemplateError as e:
            reply({'ok': False, 'error': one_line(e)})
        except Exception as e:
            reply({'ok': False, 'error': one_line(e)})
        else:
            reply({'ok': True, 'text': text})

_main()
)PY";

std::string chat_one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

std::string ChatTemplate::python_path() {
  const char* p = std::getenv("SPARKBENCH_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

ChatTemplate::ChatTemplate(Options opt) : opt_(std::move(opt)) {
  const std::string py = python_path();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    fail("chat template ", opt_.name, ": socketpair: ", std::strerror(errno));
  Pipe err;
  try {
    err = make_pipe();
  } catch (...) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw;
  }
  SpawnSpec spec;
  spec.path = py;
  spec.argv = {py, "-I", "-c", kChatHelperPy};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.fds = {{sv[1], 0}, {sv[1], 1}, {err.write, 2}};
  try {
    pid_ = spawn_process(spec);
  } catch (const Error& e) {
    ::close(sv[0]);
    ::close(sv[1]);
    close_fd(err.read);
    close_fd(err.write);
    fail("chat template ", opt_.name, ": ", e.what(), "; install python3 and python3-jinja2 (scripts/setup.sh) or set SPARKBENCH_PYTHON");
  }
  ::close(sv[1]);
  close_fd(err.write);
  sock_ = sv[0];
  err_fd_ = err.read;
  try {
    nlohmann::json init{{"template", opt_.source}, {"bos_token", opt_.bos_token}, {"eos_token", opt_.eos_token}};
    const nlohmann::json j =
        parse_answer(request(init.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace), opt_.start_timeout_s));
    version_ = j.value("version", std::string());
  } catch (...) {
    stop();  // the destructor does not run for a throwing constructor
    throw;
  }
}

nlohmann::json ChatTemplate::parse_answer(const std::string& line) const {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    fail("chat template ", opt_.name, ": unreadable answer from the Jinja2 helper (", e.what(), ")");
  }
  if (!j.is_object() || !j.value("ok", false))
    fail("chat template ", opt_.name, ": ", chat_one_line(j.is_object() ? j.value("error", std::string("failed")) : line));
  return j;
}

ChatTemplate::~ChatTemplate() { stop(); }

void ChatTemplate::stop() {
  close_fd(sock_);  // the helper sees end of input and exits
  if (pid_ > 0) {
    // Wait up to 2 s for it to exit without reaping it (WNOWAIT: its pid, and so its process
    // group id, stay ours), then SIGKILL the group - itself if still running, or anything it
    // left behind - and reap it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      siginfo_t info{};
      if (::waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno != EINTR) break;
      if (info.si_pid == pid_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  close_fd(err_fd_);
}

void ChatTemplate::keep_stderr(const char* data, size_t n) {
  errbuf_.append(data, n);
  if (errbuf_.size() > (1u << 16)) errbuf_.erase(0, errbuf_.size() - (1u << 15));  // the tail matters
}

void ChatTemplate::die(const std::string& what) {
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
  // Collect what it said on stderr before the pipe closed.
  while (err_fd_ >= 0) {
    struct pollfd p {
      err_fd_, POLLIN, 0
    };
    if (::poll(&p, 1, 200) <= 0) break;
    char buf[4096];
    const ssize_t n = ::read(err_fd_, buf, sizeof buf);
    if (n <= 0) break;
    keep_stderr(buf, size_t(n));
  }
  int status = 0;
  if (pid_ > 0) {
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  stop();
  const std::string said = text::last_line(errbuf_);
  dead_ = "chat template " + opt_.name + ": the Jinja2 helper (" + python_path() + ") " + what +
          (said.empty() ? "" : ": " + chat_one_line(said));
  fail(dead_);
}

std::string ChatTemplate::request(const std::string& line, double timeout_s) {
  if (!dead_.empty()) fail(dead_);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s));
  const std::string msg = line + "\n";
  size_t sent = 0;
  inbuf_.clear();
  while (true) {
    const size_t nl = inbuf_.find('\n');
    if (nl != std::string::npos) {
      std::string out = inbuf_.substr(0, nl);
      inbuf_.erase(0, nl + 1);
      return out;
    }
    struct pollfd p[2];
    nfds_t n = 0;
    p[n++] = {sock_, short(POLLIN | (sent < msg.size() ? POLLOUT : 0)), 0};
    if (err_fd_ >= 0) p[n++] = {err_fd_, POLLIN, 0};
    const int ms = poll_ms_until(deadline);
    if (ms == 0) die(cat("did not answer within ", timeout_s, " s and was killed"));
    const int r = ::poll(p, n, ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      die(std::string("could not be polled: ") + std::strerror(errno));
    }
    if (n > 1 && (p[1].revents & (POLLIN | POLLHUP))) {
      char buf[4096];
      const ssize_t k = ::read(err_fd_, buf, sizeof buf);
      if (k > 0) {
        keep_stderr(buf, size_t(k));
      } else if (k == 0 || errno != EINTR) {
        close_fd(err_fd_);
      }
    }
    if (p[0].revents & POLLOUT) {
      const ssize_t k = ::send(sock_, msg.data() + sent, msg.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (k > 0) {
        sent += size_t(k);
      } else if (k < 0 && errno == EPIPE) {
        sent = msg.size();  // it closed its end: the read below sees end of file and reports the exit
      } else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        die(std::string("could not be written to: ") + std::strerror(errno));
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      const ssize_t k = ::recv(sock_, buf, sizeof buf, MSG_DONTWAIT);
      if (k > 0)
        inbuf_.append(buf, size_t(k));
      else if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        die("exited");
    }
  }
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  // ordered_json: each message reaches the template as {"role", "content"} in that order, as
  // Python dicts built by callers are (visible to templates that apply tojson to messages).
  nlohmann::ordered_json ms = nlohmann::ordered_json::array();
  for (const auto& m : messages) ms.push_back({{"role", m.role}, {"content", m.content}});
  const nlohmann::ordered_json req{{"messages", ms}, {"add_generation_prompt", add_generation_prompt}};
  const nlohmann::json j = parse_answer(request(req.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace), opt_.timeout_s));
  if (!j.contains("text") || !j["text"].is_string()) fail("chat template ", opt_.name, ": the Jinja2 helper answered without text");
  return j["text"].get<std::string>();
}

}  // namespace sb
