// Continuous batching (engine/model/batch.h): several sequences of different lengths joining at
// different steps, prompts split into chunks that share steps with running decodes, give each
// sequence the same greedy ids and (within a tolerance) the same logits as running it alone in
// a Context, on every available backend and every architecture family's tiny preset.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/generate/sampler.h"
#include "engine/gguf/gguf.h"
#include "engine/model/batch.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

// NaN-aware: a NaN or infinity anywhere makes the result infinite.
double max_abs_diff(const float* a, const float* b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!std::isfinite(d)) return INFINITY;
    worst = std::max(worst, d);
  }
  return worst;
}

struct Trace {
  std::vector<int32_t> ids;                // greedy tokens
  std::vector<std::vector<float>> logits;  // the row each was picked from
  std::vector<float> prompt_rows;          // logits of every prompt row (batch run: when asked)
};

// Alone: the prompt in one eval (all rows), then `steps` greedy single-token steps.
Trace run_alone(const Model& m, const std::vector<int32_t>& prompt, int steps) {
  Context c(m, {.n_ctx = 256, .kv_type = DType::F32});
  Trace t;
  std::vector<float> lg;
  c.eval(prompt.data(), int64_t(prompt.size()), true, t.prompt_rows);
  const int64_t V = m.config().n_vocab;
  lg.assign(t.prompt_rows.end() - V, t.prompt_rows.end());
  for (int s = 0; s < steps; ++s) {
    const int32_t id = argmax(lg.data(), V);
    t.ids.push_back(id);
    t.logits.push_back(lg);
    if (s + 1 < steps) c.eval(&id, 1, false, lg);
  }
  return t;
}

struct Plan {
  std::vector<int32_t> prompt;
  int join_step;
  bool all_rows;  // ask for the logits of every prompt row (echo)
};

// Together: sequence i joins at plan[i].join_step; each step runs the decodes of sequences
// past their prompt, then prompt chunks in the rows left (max_rows per step).
std::vector<Trace> run_batched(const Model& m, const std::vector<Plan>& plan, int steps, int64_t max_rows) {
  BatchContext bc(m, max_rows, {.n_ctx = 256, .kv_type = DType::F32});
  const int64_t V = m.config().n_vocab;
  struct S {
    std::unique_ptr<Sequence> seq;
    size_t done = 0;
    int32_t next = -1;
  };
  std::vector<S> st(plan.size());
  std::vector<Trace> out(plan.size());
  for (auto& s : st) s.seq = bc.new_sequence();
  std::vector<float> lg;
  for (int step = 0; step < 200; ++step) {
    std::vector<BatchContext::Item> items;
    std::vector<size_t> who;
    int64_t rows = 0;
    for (size_t i = 0; i < plan.size(); ++i)
      if (step >= plan[i].join_step && st[i].done == plan[i].prompt.size() && int(out[i].ids.size()) < steps) {
        items.push_back({st[i].seq.get(), &st[i].next, 1, 0});
        who.push_back(i);
        ++rows;
      }
    for (size_t i = 0; i < plan.size(); ++i) {
      const size_t P = plan[i].prompt.size();
      if (step < plan[i].join_step || st[i].done == P || rows >= max_rows) continue;
      const int64_t n = std::min<int64_t>(int64_t(P - st[i].done), max_rows - rows);
      const bool completes = st[i].done + size_t(n) == P;
      items.push_back({st[i].seq.get(), plan[i].prompt.data() + st[i].done, n, plan[i].all_rows ? 0 : (completes ? n - 1 : n)});
      who.push_back(i);
      rows += n;
    }
    if (items.empty()) break;
    bc.eval(items, lg);
    size_t r = 0;
    for (size_t k = 0; k < items.size(); ++k) {
      const size_t i = who[k];
      const int64_t nrows = items[k].n - items[k].logits_from;
      const float* base = lg.data() + r * size_t(V);
      r += size_t(nrows);
      const bool prefill = st[i].done < plan[i].prompt.size();
      if (prefill) {
        if (plan[i].all_rows) out[i].prompt_rows.insert(out[i].prompt_rows.end(), base, base + nrows * V);
        st[i].done += size_t(items[k].n);
        if (st[i].done < plan[i].prompt.size()) continue;
      }
      const float* row = base + (nrows - 1) * V;
      const int32_t id = argmax(row, V);
      out[i].ids.push_back(id);
      out[i].logits.emplace_back(row, row + V);
      st[i].next = id;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("batch: sequences joining at different steps match running alone", "[batch][synth][model]") {
  for (const char* preset : {"llama3-tiny", "qwen3-tiny", "gemma2-tiny", "phi3-tiny"}) {
    auto file = GgufFile::open(test::preset_model(preset));
    auto tok = Tokenizer::from_gguf(*file);
    // lengths past gemma2-tiny's window of 16 and phi3-tiny's 32
    const std::vector<Plan> plan = {
        {tok->encode("Once upon a time there was a little girl named Lily. She liked to play outside in the sun with "
                     "her dog every day. One morning the dog found a stick and ran to the river with it.",
                     true),
         0, false},
        {tok->encode("The big red ball", true), 2, true},
        {tok->encode("One day they found a box in the park, and they opened it to see what was inside.", true), 3, false},
        {tok->encode("Hello", true), 5, false},
    };
    REQUIRE(plan[0].prompt.size() > 34);
    const int steps = 6;
    for (const auto& b : available_backends()) {
      auto be = create_backend(b, {.threads = 2});
      auto m = Model::load(file, *be);
      const int64_t V = m->config().n_vocab;
      for (int64_t max_rows : {int64_t(7), int64_t(64)}) {
        const std::vector<Trace> got = run_batched(*m, plan, steps, max_rows);
        for (size_t i = 0; i < plan.size(); ++i) {
          const Trace want = run_alone(*m, plan[i].prompt, steps);
          INFO(preset << " on " << b << ", max_rows " << max_rows << ", sequence " << i);
          REQUIRE(got[i].ids.size() == size_t(steps));
          CHECK(got[i].ids == want.ids);
          double worst = 0;
          for (int s = 0; s < steps; ++s)
            worst = std::max(worst, max_abs_diff(got[i].logits[size_t(s)].data(), want.logits[size_t(s)].data(), size_t(V)));
          if (plan[i].all_rows) {
            REQUIRE(got[i].prompt_rows.size() == want.prompt_rows.size());
            worst = std::max(worst, max_abs_diff(got[i].prompt_rows.data(), want.prompt_rows.data(), want.prompt_rows.size()));
          }
          INFO("max |logit diff| " << worst);
          CHECK(worst < (b == "ref" ? 1e-5 : 2e-3));
        }
      }
    }
  }
}

TEST_CASE("batch: invalid steps throw and change nothing", "[batch][synth][unit]") {
  auto file = GgufFile::open(test::preset_model("llama3-tiny"));
  auto be = create_backend("ref");
  auto m = Model::load(file, *be);
  BatchContext bc(*m, 4, {.n_ctx = 8, .kv_type = DType::F32});
  auto a = bc.new_sequence(), b = bc.new_sequence();
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5};
  std::vector<float> lg;
  auto error_of = [&](const std::vector<BatchContext::Item>& items) {
    try {
      bc.eval(items, lg);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(error_of({{a.get(), ids.data(), 5, 5}}).find("exceeds the batch of 4 rows") != std::string::npos);
  CHECK(error_of({{a.get(), ids.data(), 2, 2}, {a.get(), ids.data(), 1, 0}}).find("twice") != std::string::npos);
  CHECK(error_of({{a.get(), ids.data(), 0, 0}}).find("at least one token") != std::string::npos);
  const int32_t bad = m->config().n_vocab;
  CHECK(error_of({{a.get(), ids.data(), 2, 2}, {b.get(), &bad, 1, 0}}).find("out of range") != std::string::npos);
  CHECK(a->pos() == 0);
  CHECK(b->pos() == 0);
  bc.eval({{a.get(), ids.data(), 2, 1}, {b.get(), ids.data(), 2, 2}}, lg);
  CHECK(lg.size() == size_t(m->config().n_vocab));
  CHECK(a->pos() == 2);
  CHECK(b->pos() == 2);
  bc.eval({{a.get(), ids.data(), 4, 4}}, lg);
  CHECK(lg.empty());
  CHECK(a->pos() == 6);
  CHECK(error_of({{a.get(), ids.data(), 3, 0}}).find("exceeds the context of 8") != std::string::npos);
  CHECK(a->pos() == 6);
  a->rewind(0);
  CHECK(a->pos() == 0);
}
