// EngineLM's cache identity (evals/engine_lm.h): every setting that changes answers changes it.
#include <catch2/catch.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "evals/engine_lm.h"

using namespace sb;

TEST_CASE("engine LM identity: each setting that changes answers changes the identity", "[evals][unit]") {
  const EngineLMSettings base{.model_sha256 = "aa", .variant = "base", .compute = "f32"};
  auto id = [](const EngineLMSettings& s, std::string backend = "cpu", DType kv = DType::F16, int64_t n_ctx = 512,
               int64_t n_batch = 512) { return engine_lm_identity(s, backend, kv, n_ctx, n_batch); };
  const std::string ref = id(base);
  CHECK(ref == id(base));  // deterministic
  auto with = [&](const std::function<void(EngineLMSettings&)>& f) {
    EngineLMSettings s = base;
    f(s);
    return id(s);
  };
  const std::vector<std::pair<const char*, std::string>> changed{
      {"model file", with([](auto& s) { s.model_sha256 = "bb"; })},
      {"variant", with([](auto& s) { s.variant = "q4_0"; })},
      {"calibration", with([](auto& s) { s.calibration_sha256 = "cc"; })},
      {"compute", with([](auto& s) { s.compute = "bf16"; })},
      {"chat template", with([](auto& s) { s.chat_template_sha256 = "dd"; })},
      {"backend", id(base, "ref")},
      {"kv type", id(base, "cpu", DType::F32)},
      {"context size", id(base, "cpu", DType::F16, 256)},
      {"batch size", id(base, "cpu", DType::F16, 512, 64)},
  };
  std::set<std::string> all{ref};
  for (const auto& [what, v] : changed) {
    INFO(what);
    CHECK(v != ref);
    CHECK(all.insert(v).second);  // and differs from every other change
  }
  // The chat fields count once a chat template is set.
  EngineLMSettings chat = base;
  chat.chat_template_sha256 = "dd";
  chat.chat_system_sha256 = "s1";
  const std::string c = id(chat);
  EngineLMSettings other_system = chat;
  other_system.chat_system_sha256 = "s2";
  EngineLMSettings scoring = chat;
  scoring.chat_scoring = true;
  EngineLMSettings other_template = chat;
  other_template.chat_template_sha256 = "ee";
  CHECK(id(other_system) != c);
  CHECK(id(scoring) != c);
  CHECK(id(other_template) != c);
  // Today's fields keep their form; the context and batch sizes come last.
  CHECK(c == "aa|base|cpu|kv=f16|compute=f32|chat=dd|system=s1|chat_scoring=0|ctx=512|batch=512");
}
