// ChatTemplate (real Jinja2 in a helper process) against Jinja2 run directly by the test, and
// the tokenization of rendered chat prompts (special tokens, one BOS).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "evals/chat_template.h"
#include "tests/evals/chat_test_util.h"
#include "tests/test_support.h"

using namespace sb;
using sb::test::chat_data;
using sb::test::skip_without_jinja2;

namespace {

// The expected rendering, computed by this test's own Jinja2 program (Hugging Face's
// environment as transformers' _compile_jinja_template builds it), not by ChatTemplate.
std::string jinja2_direct(const std::string& tmpl, const std::vector<ChatMessage>& ms, bool agp, const std::string& bos,
                          const std::string& eos) {
  static const char* kScript = R"PY(
import sys, json, datetime
import jinja2, jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
req = json.loads(sys.stdin.buffer.read())
def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters['tojson'] = tojson
env.globals['raise_exception'] = raise_exception
env.globals['strftime_now'] = lambda f: datetime.datetime.now().strftime(f)
out = env.from_string(req['template']).render(messages=req['messages'], add_generation_prompt=req['agp'],
                                              bos_token=req['bos'], eos_token=req['eos'])
sys.stdout.buffer.write(out.encode('utf-8'))
)PY";
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();  // {"role", "content"} as a Python caller builds it
  for (const auto& m : ms) msgs.push_back({{"role", m.role}, {"content", m.content}});
  const nlohmann::ordered_json req{{"template", tmpl}, {"messages", msgs}, {"agp", agp}, {"bos", bos}, {"eos", eos}};
  auto r = test::run_process({ChatTemplate::python_path(), "-I", "-c", kScript}, req.dump());
  REQUIRE(r.exit_code == 0);
  return r.out;
}

ChatTemplate::Options opts(const std::string& file, const std::string& bos = "<s>", const std::string& eos = "</s>") {
  ChatTemplate::Options o;
  o.source = read_file(chat_data(file));
  o.name = file;
  o.bos_token = bos;
  o.eos_token = eos;
  return o;
}

const std::vector<ChatMessage> kConversation = {
    {"system", "  Answer in one sentence. <b>not html</b>  "},
    {"user", "What is a \"tokenizer\"?\nExplain."},
    {"assistant", "It splits text into pieces — tokens. "},
    {"user", "Grüße, and 日本語? {{ not a template }} {% raw %}"},
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("chat template: multi-turn renders byte-identical to Jinja2 run directly", "[chat][unit]") {
  if (skip_without_jinja2()) return;
  for (const char* file : {"inst.jinja", "chatml.jinja", "probe.jinja"}) {
    INFO(file);
    ChatTemplate t(opts(file));
    CHECK(t.engine_version().rfind("jinja2 ", 0) == 0);
    const std::string src = read_file(chat_data(file));
    // One helper serves many renders, in both modes, with different message lists.
    for (bool agp : {true, false}) {
      for (size_t n : {size_t(2), kConversation.size()}) {
        std::vector<ChatMessage> ms(kConversation.begin(), kConversation.begin() + long(n));
        const std::string got = t.render(ms, agp);
        CHECK(got == jinja2_direct(src, ms, agp, "<s>", "</s>"));
        CHECK(!got.empty());
      }
    }
  }
  // The rendered text is the template's, not a fixed format: spot-check the features used.
  ChatTemplate inst(opts("inst.jinja"));
  CHECK(inst.render(kConversation, true) ==
        "<s>[INST] <<SYS>>\nAnswer in one sentence. <b>not html</b>\n<</SYS>>\n\nWhat is a \"tokenizer\"?\nExplain. [/INST]"
        " It splits text into pieces — tokens.</s><s>[INST] Grüße, and 日本語? {{ not a template }} {% raw %} [/INST]");
  ChatTemplate probe(opts("probe.jinja", "BOS", "EOS"));
  const std::string p = probe.render({{"user", "<x>"}}, false);
  CHECK(p.find("tools defined: False\n") == 0);                                        // tools is left undefined
  CHECK(p.find("[{\"role\": \"user\", \"content\": \"<x>\"}]") != std::string::npos);  // tojson without HTML escapes
  CHECK(p.find("strftime_now: True 4\n") != std::string::npos);
  CHECK(p.find("BOS|EOS|False") != std::string::npos);
}

TEST_CASE("chat template: template errors are one line naming the template and the helper survives them", "[chat][unit]") {
  if (skip_without_jinja2()) return;
  ChatTemplate inst(opts("inst.jinja"));
  const std::string e1 = error_of([&] { inst.render({{"user", "a"}, {"user", "b"}}, true); });
  CHECK(e1 == "chat template inst.jinja: TemplateError: Conversation roles must alternate user/assistant/user/assistant/...");
  const std::string e2 = error_of([&] { inst.render({{"tool", "x"}}, true); });
  CHECK(e2.find("Conversation roles must alternate") != std::string::npos);
  CHECK(inst.render({{"user", "ok"}}, true) == "<s>[INST] ok [/INST]");  // still usable

  ChatTemplate nosys(opts("no_system.jinja"));
  CHECK(error_of([&] {
          nosys.render({{"system", "s"}, {"user", "u"}}, true);
        }) == "chat template no_system.jinja: TemplateError: System role not supported");

  ChatTemplate::Options bad;
  bad.name = "broken.jinja";
  bad.source = "line one\n{% for m in messages %}{{ m.content }}\n";
  const std::string e3 = error_of([&] { ChatTemplate t(bad); });
  CHECK(e3.find("chat template broken.jinja: syntax error at line ") == 0);
  CHECK(e3.find('\n') == std::string::npos);

  // The sandbox refuses attribute walks to Python internals.
  bad.name = "escape.jinja";
  bad.source = "{{ ''.__class__.__mro__[1].__subclasses__() }}";
  ChatTemplate esc(bad);
  const std::string e4 = error_of([&] { esc.render({{"user", "u"}}, true); });
  CHECK(e4.find("chat template escape.jinja: SecurityError: ") == 0);
}

TEST_CASE("chat template: a missing interpreter or jinja2 and a dying or hanging helper are clear errors", "[chat][unit]") {
  const std::string dir = test::temp_dir("chat-py");
  struct EnvGuard {
    ~EnvGuard() { ::unsetenv("SPARKBENCH_PYTHON"); }
  } guard;
  auto write_script = [&](const std::string& name, const std::string& body) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    REQUIRE(::chmod(path.c_str(), 0755) == 0);
    return path;
  };
  ChatTemplate::Options o;
  o.name = "t.jinja";
  o.source = "{{ messages[0]['content'] }}";

  ::setenv("SPARKBENCH_PYTHON", (dir + "/no-such-python3").c_str(), 1);
  std::string e = error_of([&] { ChatTemplate t(o); });
  CHECK(e.find("chat template t.jinja: cannot start " + dir + "/no-such-python3") == 0);
  CHECK(e.find("python3-jinja2") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);

  // A real interpreter without site-packages (-S): jinja2 cannot be imported.
  if (::access("/usr/bin/python3", X_OK) == 0) {
    ::setenv("SPARKBENCH_PYTHON", write_script("py-nosite", "exec /usr/bin/python3 -S \"$@\"").c_str(), 1);
    e = error_of([&] { ChatTemplate t(o); });
    CHECK(e.find("chat template t.jinja: cannot import jinja2 (ModuleNotFoundError: No module named 'jinja2'); install python3-jinja2") ==
          0);
  }

  // Fault injection: an "interpreter" that dies at once, saying why on stderr.
  ::setenv("SPARKBENCH_PYTHON", write_script("py-dies", "echo 'first line' >&2; echo 'helper fell over' >&2; exit 3").c_str(), 1);
  e = error_of([&] { ChatTemplate t(o); });
  CHECK(e.find("chat template t.jinja: the Jinja2 helper (") == 0);
  CHECK(e.find(") exited: helper fell over") != std::string::npos);

  ::unsetenv("SPARKBENCH_PYTHON");
  if (skip_without_jinja2()) return;
  // A template that runs far longer than the time allowed: killed, and later calls fail at once.
  o.source = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
  o.timeout_s = 1.5;
  ChatTemplate slow(o);
  e = error_of([&] { slow.render({{"user", "u"}}, true); });
  CHECK(e.find("chat template t.jinja: the Jinja2 helper (") == 0);
  CHECK(e.find("did not answer within 1.5 s and was killed") != std::string::npos);
  CHECK(error_of([&] { slow.render({{"user", "u"}}, true); }) == e);
}

TEST_CASE("chat template: special tokens in the rendered prompt tokenize to their ids with one BOS", "[chat]") {
  if (skip_without_jinja2()) return;
  auto file = GgufFile::open(test::preset_model("codex-spark-mini"));
  auto tok = Tokenizer::from_gguf(*file);
  REQUIRE(tok->add_bos_default());
  const int32_t bos = tok->bos_id(), eos = tok->eos_id();
  ChatTemplate t(opts("inst.jinja", tok->token_text(bos), tok->token_text(eos)));
  const std::string text = t.render(kConversation, true);  // "<s>[INST] ... [/INST] ...</s><s>[INST] ..."
  const std::vector<int32_t> ids = tok->encode_chat(text);
  auto count = [&](const std::vector<int32_t>& v, int32_t id) { return std::count(v.begin(), v.end(), id); };
  CHECK(ids.front() == bos);
  CHECK(ids[1] != bos);         // the template's own BOS, not a second one
  CHECK(count(ids, bos) == 2);  // one per exchange
  CHECK(count(ids, eos) == 1);  // after the assistant's answer
  const auto e = std::find(ids.begin(), ids.end(), eos);
  REQUIRE(e + 1 < ids.end());
  CHECK(*(e + 1) == bos);  // "</s><s>" is two ids
  // Decoding the ids between the special tokens gives the text back.
  CHECK(tok->decode(std::vector<int32_t>(ids.begin() + 1, e)) == text.substr(3, text.find("</s>") - 3));
  // As plain text the same bytes are ordinary pieces (no special ids besides the added BOS).
  const std::vector<int32_t> plain = tok->encode(text, true);
  CHECK(count(plain, bos) == 1);
  CHECK(count(plain, eos) == 0);
  // A template without bos_token still gets the vocab's BOS (add_bos), exactly once.
  ChatTemplate chatml(opts("chatml.jinja", tok->token_text(bos), tok->token_text(eos)));
  const std::vector<int32_t> c = tok->encode_chat(chatml.render({{"user", "hi"}}, true));
  CHECK(c.front() == bos);
  CHECK(count(c, bos) == 1);
}
