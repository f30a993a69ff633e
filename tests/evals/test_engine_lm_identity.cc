// EngineLM's cache identity (evals/engine_lm.h): every setting that changes answers changes it.
#include <catch2/catch.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/core/sha256.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "evals/engine_lm.h"
#include "tests/test_support.h"

using namespace sb;

TEST_CASE("engine LM identity: each setting that changes answers changes the identity", "[evals][unit]") {
  const EngineLMSettings base{.model_sha256 = "aa", .variant = "base", .compute = "f32"};
  auto id = [](const EngineLMSettings& s, std::string backend = "cpu", DType kv = DType::F16, int64_t n_ctx = 512, int64_t n_batch = 512) {
    return engine_lm_identity(s, backend, kv, n_ctx, n_batch);
  };
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
      {"chat template", with([](auto& s) { s.chat_template = "{{ messages }}"; })},
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
  chat.chat_template = "{{ messages }}";
  chat.chat_system = "s1";
  const std::string c = id(chat);
  EngineLMSettings other_system = chat;
  other_system.chat_system = "s2";
  EngineLMSettings scoring = chat;
  scoring.chat_scoring = true;
  EngineLMSettings other_template = chat;
  other_template.chat_template = "{{ messages[0] }}";
  CHECK(id(other_system) != c);
  CHECK(id(scoring) != c);
  CHECK(id(other_template) != c);
  // Today's fields keep their form; the context and batch sizes come last.
  CHECK(c == "aa|base|cpu|kv=f16|compute=f32|chat=" + sha256_hex("{{ messages }}") + "|system=" + sha256_hex("s1") +
                 "|chat_scoring=0|ctx=512|batch=512");
}

TEST_CASE("engine LM identity: EngineLM::identity() follows the model, backend and context it was built on", "[evals][unit]") {
  auto file = GgufFile::open(test::preset_model("phi3-tiny"));
  auto tok = Tokenizer::from_gguf(*file);
  auto refb = create_backend("ref");
  auto model = Model::load(file, *refb);
  const EngineLMSettings s{.model_sha256 = "aa", .variant = "base", .compute = "f32"};
  auto identity = [&](const Model& m, const ContextOptions& co, const EngineLMSettings& st) {
    return EngineLM(m, *tok, co, st).identity();
  };
  ContextOptions co;
  co.n_ctx = 64;
  const std::string ref = identity(*model, co, s);
  // The method is the free function over what the adapter sees: nothing is assembled outside.
  CHECK(ref == engine_lm_identity(s, "ref", DType::F16, 64, co.n_batch));
  std::set<std::string> all{ref};
  auto differs = [&](const char* what, const std::string& v) {
    INFO(what);
    CHECK(v != ref);
    CHECK(all.insert(v).second);
  };
  ContextOptions kv = co;
  kv.kv_type = DType::F32;
  differs("kv type", identity(*model, kv, s));
  ContextOptions ctx = co;
  ctx.n_ctx = 32;
  differs("context size", identity(*model, ctx, s));
  ContextOptions whole = co;
  whole.n_ctx = 0;  // 0 = the model's context, named as the number in use
  const std::string w = identity(*model, whole, s);
  CHECK(w.find("|ctx=" + std::to_string(model->config().n_ctx) + "|") != std::string::npos);
  differs("model context", w);
  ContextOptions batch = co;
  batch.n_batch = 16;
  differs("batch size", identity(*model, batch, s));
  EngineLMSettings chat = s;
  chat.chat_template = "{{ messages }}";
  differs("chat template", identity(*model, co, chat));
  for (const auto& name : available_backends()) {
    if (name == "ref") continue;
    auto be = create_backend(name);
    auto m = Model::load(file, *be);
    differs(name.c_str(), identity(*m, co, s));
  }
}
