// EngineLM on the real stories260K model: request semantics and the `stories` suite score.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/backends/backend.h"
#include "engine/generate/perplexity.h"
#include "evals/engine_lm.h"
#include "evals/task.h"
#include "tests/test_support.h"

using namespace sb;

namespace {
struct Fixture {
  std::unique_ptr<Backend> backend = create_backend(available_backends().back(), {.threads = 2});
  std::shared_ptr<const GgufFile> file = GgufFile::open(test::shared_path("models/stories260K.gguf"));
  std::unique_ptr<Tokenizer> tok = Tokenizer::from_gguf(*file);
  std::unique_ptr<Model> model = Model::load(file, *backend);
};
}  // namespace

TEST_CASE("engine LM: loglikelihood equals a direct forward pass, with or without prefix reuse", "[evals][shared]") {
  if (test::skip_without_shared()) return;
  Fixture f;
  EngineLM lm(*f.model, *f.tok, {}, {});
  // Direct computation: BOS + "Once upon a time" + ", there was"
  std::vector<int32_t> ids = f.tok->encode("Once upon a time, there was", true);
  const size_t n_ctx_tokens = f.tok->encode("Once upon a time", true).size();
  Context c(*f.model, {});
  std::vector<float> logits;
  c.eval(ids.data(), int64_t(ids.size()), true, logits);
  const int64_t V = f.model->config().n_vocab;
  double want = 0;
  for (size_t j = n_ctx_tokens - 1; j + 1 < ids.size(); ++j) want += log_prob(logits.data() + j * size_t(V), V, ids[j + 1]);
  LLResult a = lm.loglikelihood({"Once upon a time", ", there was"});
  CHECK(a.logprob == Approx(want).margin(1e-4));
  CHECK(a.n_tokens == int64_t(ids.size() - n_ctx_tokens));
  CHECK(a.is_greedy);  // greedy.json: ", there was" is the greedy continuation
  LLResult other = lm.loglikelihood({"Once upon a time", " the stock market"});
  CHECK(other.logprob < a.logprob);
  CHECK_FALSE(other.is_greedy);
  // Again after another request (prefix reuse path) gives the same number.
  CHECK(lm.loglikelihood({"Once upon a time", ", there was"}).logprob == Approx(a.logprob).margin(1e-4));
}

TEST_CASE("engine LM: rolling loglikelihood scores every token once", "[evals][shared]") {
  if (test::skip_without_shared()) return;
  Fixture f;
  EngineLM lm(*f.model, *f.tok, {.n_ctx = 64, .n_batch = 64}, {});
  std::string text;
  for (int i = 0; i < 12; ++i) text += "Lily and Tom went to the park to play with a big red ball. ";
  RollingResult r = lm.loglikelihood_rolling(text);
  CHECK(r.n_tokens == int64_t(f.tok->encode(text, true).size()) - 1);
  CHECK(r.n_bytes == int64_t(text.size()));
  CHECK(std::exp(-r.logprob / double(r.n_tokens)) < 20);  // repetitive in-domain text is easy
}

TEST_CASE("engine LM: stories260K scores clearly above chance on the stories suite", "[evals][shared]") {
  if (test::skip_without_shared()) return;
  Fixture f;
  EngineLM lm(*f.model, *f.tok, {}, {});
  Suite s = load_suite("stories");
  auto task = Task::create(s, {});
  std::vector<ItemResult> rows;
  for (size_t i = 0; i < task->size(); ++i) rows.push_back(task->run(i, lm)[0]);
  auto m = task->aggregate(rows);
  REQUIRE(m[0].metric == "acc");
  std::printf("stories260K on stories: acc %.3f [%.3f, %.3f], acc_norm %.3f [%.3f, %.3f] (n=%lld, chance 0.25)\n", m[0].value, *m[0].ci_low,
              *m[0].ci_high, m[1].value, *m[1].ci_low, *m[1].ci_high, (long long)m[0].n);
  CHECK(*m[0].ci_low > 0.25);  // significant at 95%
  CHECK(*m[1].ci_low > 0.25);
  CHECK(m[0].value > 0.55);
  // The "easy" group (ids 0-65, out-of-domain distractors) checks the vocabulary prior and
  // can be passed without reading the context (in version 1 even by length alone; version 2
  // length-matched it, datasets/stories/README.md). The claim that the model reads stories rests on the
  // in-domain and knowledge groups (ids 66-214), where the context-free baseline is near chance.
  int64_t n = 0, correct = 0;
  for (const auto& r : rows) {
    const int64_t id = std::stoll(r.item_id.substr(r.item_id.find('/') + 1));
    if (id < 66) continue;
    ++n;
    correct += r.score > 0.5;
  }
  const double p = double(correct) / double(n), z = 1.96;
  const double lo = (p + z * z / (2 * n) - z * std::sqrt(p * (1 - p) / n + z * z / (4.0 * n * n))) / (1 + z * z / n);
  std::printf("stories260K on the context-dependent items (ids 66-214): acc %.3f, Wilson 95%% low %.3f (n=%lld)\n", p, lo, (long long)n);
  CHECK(n == 149);
  CHECK(lo > 0.25);
}

TEST_CASE("engine LM: the identity names the context length in use", "[evals][shared]") {
  if (test::skip_without_shared()) return;
  Fixture f;
  const int64_t full = f.model->config().n_ctx;
  EngineLM whole(*f.model, *f.tok, {}, {.model_sha256 = "x"}), explicit_full(*f.model, *f.tok, {.n_ctx = full}, {.model_sha256 = "x"}),
      small(*f.model, *f.tok, {.n_ctx = 64}, {.model_sha256 = "x"});
  CHECK(whole.identity() == explicit_full.identity());  // 0 means the model's length: same answers
  CHECK(whole.identity().find("|ctx=" + std::to_string(full) + "|") != std::string::npos);
  CHECK(small.identity() != whole.identity());
  CHECK(small.identity().find("|ctx=64|") != std::string::npos);
}
