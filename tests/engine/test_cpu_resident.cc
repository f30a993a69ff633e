// Where the cpu backend keeps weights it reads in place (docs/DESIGN.md, "cpu backend: decode"):
// host_alloc's blocks (2 MiB aligned for huge pages from 2 MiB up, zeroed), host_alloc_weight's
// (small blocks carved from shared huge-page arenas: aligned, zeroed, disjoint, alive while
// held), a weight loaded from
// a caller's buffer leaves that buffer as it was (only file mappings may have pages dropped), and
// a weight loaded from a file mapping still reads right through the mapping afterwards (the
// tied embedding is loaded twice from the same tensor); results match ref in every case.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/backends/host.h"
#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "tests/engine/backend_test_util.h"
#include "tests/test_support.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu_isa.h"
#endif

using namespace sb;

namespace {

// y = x * w^T for one row x on backend b, w loaded from src.
std::vector<float> product(Backend& b, const WeightSource& src, const std::vector<float>& x) {
  auto w = b.load_weight(src);
  Tensor xt = test::make(b, 1, src.cols, x);
  Tensor y = b.alloc(1, src.rows, DType::F32);
  b.matmul(xt, *w, y);
  return test::get(b, y);
}

// rows x cols F16 weights, 4 MiB at the sizes below (a huge-page block of its own, not an arena's).
constexpr int64_t kRows = 1024, kCols = 2048;

std::vector<uint8_t> f16_weights(uint64_t seed, int64_t rows = kRows) {
  return test::quantized(GgmlType::F16, test::randn(size_t(rows * kCols), seed), rows, kCols);
}

}  // namespace

TEST_CASE("host_alloc: zeroed blocks, 2 MiB aligned from 2 MiB up", "[backend][unit]") {
  for (size_t bytes : {size_t(100), size_t(1) << 20, (size_t(2) << 20) + 12345, size_t(9) << 20}) {
    INFO("bytes " << bytes);
    auto p = host_alloc(bytes);
    const auto* c = static_cast<const uint8_t*>(p.get());
    CHECK(reinterpret_cast<uintptr_t>(c) % 64 == 0);
    if (bytes >= (size_t(2) << 20) && host_hugepages()) CHECK(reinterpret_cast<uintptr_t>(c) % (size_t(2) << 20) == 0);
    bool zero = true;
    for (size_t i = 0; i < bytes; i += 997) zero = zero && c[i] == 0;
    CHECK(zero);
    CHECK(c[bytes - 1] == 0);
    static_cast<uint8_t*>(p.get())[bytes - 1] = 7;  // the whole block is writable
  }
}

TEST_CASE("host_alloc_weight: small blocks from shared arenas are aligned, zeroed, disjoint and outlive the others", "[backend][unit]") {
  const std::vector<size_t> sizes = {1, 100, 64 << 10, 278528, 1 << 20, (2 << 20) - 1, 2 << 20, 3 << 20};
  std::vector<std::shared_ptr<void>> blocks;
  for (int round = 0; round < 40; ++round)  // 40 x ~3.4 MiB of blocks under 2 MiB: several arenas
    for (size_t bytes : sizes) blocks.push_back(host_alloc_weight(bytes));
  for (size_t i = 0; i < blocks.size(); ++i) {
    const size_t bytes = sizes[i % sizes.size()];
    auto* c = static_cast<uint8_t*>(blocks[i].get());
    INFO("block " << i << " bytes " << bytes);
    REQUIRE(c != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(c) % 64 == 0);
    if (bytes >= (size_t(2) << 20) && host_hugepages()) CHECK(reinterpret_cast<uintptr_t>(c) % (size_t(2) << 20) == 0);
    CHECK(c[0] == 0);
    CHECK(c[bytes - 1] == 0);
    std::memset(c, int(i % 251) + 1, bytes);  // every block is writable over its whole length
  }
  // every block still holds its own pattern: no two overlap
  bool kept = true;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto* c = static_cast<const uint8_t*>(blocks[i].get());
    const size_t bytes = sizes[i % sizes.size()];
    kept = kept && c[0] == uint8_t(i % 251 + 1) && c[bytes / 2] == uint8_t(i % 251 + 1) && c[bytes - 1] == uint8_t(i % 251 + 1);
  }
  CHECK(kept);
  // dropping all but one block of an arena leaves that one readable (the arena lives with it)
  std::shared_ptr<void> keep = blocks[1];
  blocks.clear();
  CHECK(static_cast<const uint8_t*>(keep.get())[99] == uint8_t(1 % 251 + 1));
}

TEST_CASE("cpu backend: a weight from a caller's buffer leaves the buffer intact", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  auto ref = create_backend("ref");
  const std::vector<uint8_t> bytes = f16_weights(3), saved = bytes;
  const WeightSource src{"w", GgmlType::F16, kRows, kCols, bytes.data()};  // file_pages = false
  const auto x = test::randn(size_t(kCols), 4);
  const auto want = product(*ref, src, x);
  std::vector<ComputeType> modes = {ComputeType::F32, ComputeType::Q8};
  if (cpu::isa_available(cpu::Isa::Avx512Bf16)) modes.push_back(ComputeType::BF16);  // repacks, then used to drop the source
  for (ComputeType mode : modes) {
    INFO("compute " << int(mode));
    for (int load = 0; load < 2; ++load) {  // a second backend loading the same buffer must see it intact
      auto cpu = create_backend("cpu", {.threads = 2, .compute = mode});
      const auto got = product(*cpu, src, x);
      CHECK(std::memcmp(bytes.data(), saved.data(), bytes.size()) == 0);
      CHECK(test::nmse(want, got) <= (mode == ComputeType::BF16 ? 1e-4 : 1e-10));  // NaN fails; a zeroed weight gives 1
    }
  }
}

TEST_CASE("cpu backend: a weight from a file mapping reads right after its pages are dropped", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  // 4 MiB (its own huge-page block) and 512 KiB (carved from an arena, as codex-spark's are)
  for (int64_t rows : {kRows, int64_t(128)}) {
    INFO("rows " << rows);
    const std::string path = test::temp_dir("cpu_resident") + "/w" + std::to_string(rows) + ".gguf";
    const std::vector<uint8_t> bytes = f16_weights(5, rows);
    GgufWriter wr;
    wr.add_tensor("w", GgmlType::F16, {kCols, rows}, bytes);
    wr.write(path);
    auto f = GgufFile::open(path);
    REQUIRE(f->mapped());
    const GgufTensorInfo* t = f->tensor("w");
    REQUIRE(t);
    WeightSource src{"w", GgmlType::F16, rows, kCols, f->tensor_data(*t)};
    src.file_pages = true;
    auto ref = create_backend("ref");
    const auto x = test::randn(size_t(kCols), 6);
    const auto want = product(*ref, src, x);
    auto cpu = create_backend("cpu", {.threads = 2});
    // loaded twice from the same tensor, as a tied embedding and output are
    auto w1 = cpu->load_weight(src);
    auto w2 = cpu->load_weight(src);
    CHECK(std::memcmp(src.data, bytes.data(), bytes.size()) == 0);  // the mapping still reads the file
    for (const Weight* w : {w1.get(), w2.get()}) {
      Tensor xt = test::make(*cpu, 1, kCols, x);
      Tensor y = cpu->alloc(1, rows, DType::F32);
      cpu->matmul(xt, *w, y);
      CHECK(test::nmse(want, test::get(*cpu, y)) <= 1e-10);  // NaN fails
    }
  }
}
