// Generation loop, perplexity protocols and the synthetic presets, on real model files.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/generate/generate.h"
#include "engine/generate/perplexity.h"
#include "engine/model/synth.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

struct Loaded {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
};

Loaded load(const std::string& path, const std::string& backend, int threads = 2) {
  Loaded l;
  l.backend = create_backend(backend, {.threads = threads});
  auto f = GgufFile::open(path);
  l.tok = Tokenizer::from_gguf(*f);
  l.model = Model::load(f, *l.backend);
  return l;
}

}  // namespace

TEST_CASE("generate: greedy text equals llama.cpp's continuation", "[generate][shared]") {
  if (test::skip_without_shared()) return;
  std::ifstream in(test::shared_path("reference/stories260k/greedy.json"));
  auto j = nlohmann::json::parse(in);
  for (const auto& b : available_backends()) {
    auto m = load(test::shared_path("models/stories260K.gguf"), b);
    for (const auto& c : j["cases"]) {
      Context ctx(*m.model, {.kv_type = DType::F32});
      auto ids = m.tok->encode(c["prompt"].get<std::string>(), true);
      CHECK(ids == c["prompt_ids"].get<std::vector<int32_t>>());
      GenerateOptions g;
      g.max_tokens = 64;
      g.ignore_eog = true;
      std::string streamed;
      auto r = generate(ctx, *m.tok, ids, g, [&](const TokenEvent& e) {
        streamed += e.text;
        return true;
      });
      INFO(b << ": " << c["prompt"].get<std::string>());
      CHECK(r.generated_ids == c["greedy_ids"].get<std::vector<int32_t>>());
      CHECK(r.text == c["greedy_text"].get<std::string>());
      CHECK(streamed == r.text);
      CHECK(r.stop_reason == "length");
      REQUIRE(r.timings.token_ms.size() == 64);
      CHECK(r.timings.ttft_ms <= r.timings.total_ms);
      CHECK(r.timings.tpot_ms() > 0);
    }
  }
}

TEST_CASE("generate: stop strings cut the text and are never streamed", "[generate][shared]") {
  if (test::skip_without_shared()) return;
  auto m = load(test::shared_path("models/stories260K.gguf"), available_backends().back());
  Context ctx(*m.model);
  GenerateOptions g;
  g.max_tokens = 64;
  g.stop = {"park", "Lily's mom"};
  std::string streamed;
  auto r = generate(ctx, *m.tok, m.tok->encode("Once upon a time", true), g, [&](const TokenEvent& e) {
    streamed += e.text;
    CHECK(e.text.find("par") == std::string::npos);
    return true;
  });
  CHECK(r.stop_reason == "stop");
  CHECK(r.text == ", there was a little girl named Lily. She loved to play outside in the ");
  CHECK(streamed == r.text);
  CHECK(r.generated_ids.size() < 64);
}

TEST_CASE("generate: a callback can stop generation", "[generate][shared]") {
  if (test::skip_without_shared()) return;
  auto m = load(test::shared_path("models/stories260K.gguf"), "ref");
  Context ctx(*m.model);
  GenerateOptions g;
  g.max_tokens = 50;
  auto r = generate(ctx, *m.tok, m.tok->encode("Lily wanted to", true), g, [](const TokenEvent& e) { return e.index < 4; });
  CHECK(r.stop_reason == "callback");
  CHECK(r.generated_ids.size() == 5);
}

TEST_CASE("generate: seeded sampling is reproducible across runs and thread counts", "[generate][shared]") {
  if (test::skip_without_shared()) return;
  GenerateOptions g;
  g.max_tokens = 40;
  g.sampling.temperature = 0.9f;
  g.sampling.top_k = 40;
  g.sampling.top_p = 0.95f;
  g.sampling.seed = 1234;
  const std::string be = available_backends().back();
  std::vector<std::vector<int32_t>> outs;
  for (int threads : {1, 2, 2}) {
    auto m = load(test::shared_path("models/stories260K.gguf"), be, threads);
    Context ctx(*m.model);
    outs.push_back(generate(ctx, *m.tok, m.tok->encode("Once upon a time", true), g).generated_ids);
  }
  CHECK(outs[0] == outs[1]);
  CHECK(outs[1] == outs[2]);
  g.sampling.seed = 99;
  auto m = load(test::shared_path("models/stories260K.gguf"), be);
  Context ctx(*m.model);
  CHECK(generate(ctx, *m.tok, m.tok->encode("Once upon a time", true), g).generated_ids != outs[0]);
}

TEST_CASE("perplexity: llama.cpp protocol reproduces llama-perplexity on every backend", "[perplexity][shared]") {
  if (test::skip_without_shared()) return;
  const std::string text = read_file(test::shared_path("reference/stories260k/ppl.txt"));
  const double running[7] = {3.9647, 3.7688, 4.1062, 3.8842, 4.3186, 4.0641, 4.0293};
  for (const auto& b : available_backends()) {
    auto m = load(test::shared_path("models/stories260K.gguf"), b);
    Context ctx(*m.model, {.n_ctx = 128, .n_batch = 128});
    auto r = perplexity(ctx, *m.tok, text, PplProtocol::LlamaCpp, 128);
    INFO(b << " ppl " << r.ppl);
    CHECK(r.n_tokens == 970);
    CHECK(r.n_chunks == 7);
    CHECK(std::fabs(r.ppl / 4.0293 - 1) < 1e-3);
    CHECK(std::fabs(r.ppl_stderr - 0.34785) < 0.01);
    REQUIRE(r.running_ppl.size() == 7);
    for (int i = 0; i < 7; ++i) CHECK(std::fabs(r.running_ppl[size_t(i)] / running[i] - 1) < 1e-3);
  }
}

TEST_CASE("perplexity: sliding protocol scores every token once", "[perplexity][shared]") {
  if (test::skip_without_shared()) return;
  const std::string text = read_file(test::shared_path("reference/stories260k/ppl.txt"));
  auto m = load(test::shared_path("models/stories260K.gguf"), available_backends().back());
  Context ctx(*m.model, {.n_ctx = 128, .n_batch = 128});
  auto r = perplexity(ctx, *m.tok, text, PplProtocol::Sliding, 128);
  CHECK(r.n_scored == r.n_tokens - 1);
  // More context per prediction than llama.cpp's protocol gives a lower perplexity.
  CHECK(r.ppl > 1.5);
  CHECK(r.ppl < 4.0293);
  CHECK(r.bits_per_byte > 0.3);
  CHECK(r.bits_per_byte < 2.0);
  CHECK_THROWS_AS(perplexity(ctx, *m.tok, "Hi", PplProtocol::LlamaCpp, 128), Error);
}

TEST_CASE("presets: synthesis is deterministic and seed-dependent", "[synth][unit]") {
  std::string dir = test::temp_dir("synth");
  SynthOptions a;
  a.preset = "codex-spark-mini";
  a.dtype = GgmlType::Q4_0;  // small and quick
  synthesize_model(a, dir + "/a.gguf");
  synthesize_model(a, dir + "/b.gguf");
  a.seed = 1;
  synthesize_model(a, dir + "/c.gguf");
  MappedFile fa(dir + "/a.gguf"), fb(dir + "/b.gguf"), fc(dir + "/c.gguf");
  REQUIRE(fa.size() == fb.size());
  CHECK(std::memcmp(fa.data(), fb.data(), fa.size()) == 0);
  REQUIRE(fa.size() == fc.size());
  CHECK(std::memcmp(fa.data(), fc.data(), fa.size()) != 0);
  auto f = GgufFile::parse(fa.data(), fa.size(), "a.gguf");
  ModelConfig c = ModelConfig::from_gguf(*f);
  CHECK(c.n_layer == 8);
  CHECK(c.n_embd == 512);
  CHECK(c.n_head == 16);
  CHECK(c.n_ff == 2048);
  CHECK(c.n_ctx == 2048);
  CHECK(c.n_vocab == 32000);
  // Keys llama.cpp requires to load a llama model.
  for (const char* k : {"general.architecture", "llama.context_length", "llama.embedding_length", "llama.block_count",
                        "llama.feed_forward_length", "llama.rope.dimension_count", "llama.attention.head_count",
                        "llama.attention.head_count_kv", "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model",
                        "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"})
    CHECK(f->find(k) != nullptr);
  // Realistic scale: the embedding's standard deviation is the documented 0.02.
  auto emb = f->tensor_f32(*f->tensor("token_embd.weight"));
  double ss = 0;
  for (float v : emb) ss += double(v) * v;
  CHECK(std::sqrt(ss / double(emb.size())) == Approx(0.02).epsilon(0.05));
}

TEST_CASE("presets: codex-spark-mini agrees between ref and every other backend", "[synth][model]") {
  const std::string path = test::preset_model("codex-spark-mini");
  auto ref = load(path, "ref");
  const std::vector<int32_t> ids = ref.tok->encode("def add(a, b):\n    return a + b\n", true);
  std::vector<float> want, got;
  Context rc(*ref.model, {.kv_type = DType::F32});
  rc.eval(ids.data(), int64_t(ids.size()), true, want);
  for (const auto& b : available_backends()) {
    if (b == "ref") continue;
    auto m = load(path, b);
    Context c(*m.model, {.kv_type = DType::F32});
    c.eval(ids.data(), int64_t(ids.size()), true, got);
    const double worst = test::max_abs_err(want, got);  // NaN-aware
    INFO(b << ": max |logit diff| " << worst);
    CHECK(worst < 1e-4);  // f32 arithmetic, different summation order
  }
}

TEST_CASE("presets: a prompt filling the whole 2048 context runs, one more token is an error", "[synth][model]") {
  auto m = load(test::preset_model("codex-spark-mini"), available_backends().back());
  Context ctx(*m.model);
  std::vector<int32_t> ids(2048);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(3 + (i * 7919) % 31000);
  std::vector<float> logits;
  ctx.eval(ids.data(), 2047, false, logits);
  ctx.eval(ids.data() + 2047, 1, false, logits);
  CHECK(ctx.pos() == 2048);
  for (float v : logits) REQUIRE(std::isfinite(v));
  CHECK_THROWS_WITH(ctx.eval(ids.data(), 1, false, logits), Catch::Contains("exceeds the context of 2048"));
}
