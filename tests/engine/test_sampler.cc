// Sampler: greedy ties, seeded reproducibility, filters and the temperature distribution.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/generate/sampler.h"

using namespace sb;

TEST_CASE("sampler: greedy takes the lowest id among ties", "[sampler][unit]") {
  std::vector<float> l{0.5f, 2.0f, -1.0f, 2.0f};
  CHECK(argmax(l.data(), 4) == 1);
  Sampler s({});
  CHECK(s.sample(l.data(), 4, {}) == 1);
}

TEST_CASE("sampler: the same seed gives the same tokens, another seed others", "[sampler][unit]") {
  std::vector<float> l(100);
  for (int i = 0; i < 100; ++i) l[size_t(i)] = std::sin(float(i)) * 2.0f;
  auto run = [&](uint64_t seed) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(l.data(), 100, out));
    return out;
  };
  CHECK(run(42) == run(42));
  CHECK(run(42) != run(43));
}

TEST_CASE("sampler: top-k 1, tiny top-p and min-p 1 all reduce to greedy", "[sampler][unit]") {
  std::vector<float> l{0.1f, 3.0f, 2.9f, -2.0f, 2.95f};
  for (int trial = 0; trial < 3; ++trial) {
    SamplerParams p;
    p.temperature = 5.0f;  // very flat: only the filter can make it deterministic
    p.seed = uint64_t(trial);
    if (trial == 0) p.top_k = 1;
    if (trial == 1) p.top_p = 1e-6f;
    if (trial == 2) p.min_p = 1.0f;
    Sampler s(p);
    for (int i = 0; i < 20; ++i) CHECK(s.sample(l.data(), 5, {}) == 1);
  }
}

TEST_CASE("sampler: top-k keeps only the k best", "[sampler][unit]") {
  std::vector<float> l{5.0f, 4.9f, 4.8f, -10.0f, 4.7f};
  SamplerParams p;
  p.temperature = 100.0f;
  p.top_k = 2;
  Sampler s(p);
  for (int i = 0; i < 200; ++i) {
    int32_t t = s.sample(l.data(), 5, {});
    CHECK((t == 0 || t == 1));
  }
}

TEST_CASE("sampler: temperature 1 draws in proportion to softmax", "[sampler][unit]") {
  std::vector<float> l{0.0f, std::log(2.0f), std::log(5.0f)};  // p = 1/8, 2/8, 5/8
  SamplerParams p;
  p.temperature = 1.0f;
  p.seed = 7;
  Sampler s(p);
  int count[3] = {0, 0, 0};
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++count[s.sample(l.data(), 3, {})];
  const double expect[3] = {1.0 / 8, 2.0 / 8, 5.0 / 8};
  for (int k = 0; k < 3; ++k) {
    const double sd = std::sqrt(expect[k] * (1 - expect[k]) / n);
    CHECK(std::fabs(count[k] / double(n) - expect[k]) < 5 * sd);
  }
}

TEST_CASE("sampler: repetition penalty moves greedy away from repeated tokens", "[sampler][unit]") {
  std::vector<float> l{1.0f, 2.0f, 1.9f};
  SamplerParams p;
  p.repeat_penalty = 1.5f;
  Sampler s(p);
  CHECK(s.sample(l.data(), 3, {1}) == 2);  // 2.0 / 1.5 < 1.9
  CHECK(s.sample(l.data(), 3, {0}) == 1);  // unrelated history changes nothing
}
