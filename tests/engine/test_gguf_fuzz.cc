// Mutation fuzzing of a real GGUF file: every mutated file must either load or fail with
// sb::Error; never crash, hang or allocate absurdly (run under the sanitizer build in CI).
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/gguf/gguf.h"
#include "engine/model/config.h"
#include "tests/fuzz_targets.h"
#include "tests/test_support.h"

using namespace sb;

TEST_CASE("gguf fuzz: random byte flips in a real model never crash", "[gguf][fuzz][unit][shared]") {
  if (test::skip_without_shared()) return;
  MappedFile real(test::shared_path("models/stories260K.gguf"));
  std::vector<uint8_t> orig(real.data(), real.data() + real.size());
  // Everything before the tensor data is structure; most flips go there.
  const size_t header_end = GgufFile::parse(orig.data(), orig.size(), "x")->data_offset();
  std::mt19937_64 rng(12345);
  int loaded = 0, rejected = 0;
  const int iterations = 1500;
  std::vector<uint8_t> b;
  for (int it = 0; it < iterations; ++it) {
    b = orig;
    const int flips = 1 + int(rng() % 8);
    for (int k = 0; k < flips; ++k) {
      size_t at = (rng() % 4 != 0) ? rng() % header_end : rng() % b.size();
      switch (rng() % 4) {
        case 0:
          b[at] ^= uint8_t(1u << (rng() % 8));
          break;
        case 1:
          b[at] = uint8_t(rng());
          break;
        case 2:
          b[at] = 0xff;
          break;
        default:
          b[at] = 0;
          break;
      }
    }
    if (rng() % 10 == 0) b.resize(rng() % b.size());  // truncation
    try {
      test::load_everything(b.data(), b.size(), "fuzz.gguf");
      ++loaded;
    } catch (const Error& e) {
      ++rejected;
      const std::string msg = e.what();
      CHECK(msg.find('\n') == std::string::npos);
    }
  }
  INFO("loaded " << loaded << ", rejected " << rejected);
  CHECK(loaded + rejected == iterations);
  CHECK(rejected > iterations / 10);  // the mutations really do hit the structure
}

TEST_CASE("gguf fuzz: CLI reports corrupt files in one line with a non-zero exit", "[gguf][cli][shared]") {
  if (test::skip_without_shared()) return;
  MappedFile real(test::shared_path("models/stories260K.gguf"));
  std::string dir = test::temp_dir("fuzzcli");
  struct Case {
    std::string name;
    std::function<void(std::vector<uint8_t>&)> mutate;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"magic", [](auto& b) { b[1] = 'X'; }, "not a GGUF file"},
      {"count",
       [](auto& b) {
         uint64_t v = uint64_t(1) << 62;
         std::memcpy(b.data() + 8, &v, 8);
       },
       "tensor count"},
      {"trunc", [](auto& b) { b.resize(b.size() / 2); }, "data ends past end of file"},
  };
  for (const auto& c : cases) {
    std::vector<uint8_t> b(real.data(), real.data() + real.size());
    c.mutate(b);
    const std::string path = dir + "/" + c.name + ".gguf";
    write_file_atomic(path, b.data(), b.size());
    auto r = test::run_cli({"model", "info", path});
    INFO(c.name << ": " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("error: " + path + ": ", 0) == 0);
    CHECK(r.err.find(c.expect) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}
