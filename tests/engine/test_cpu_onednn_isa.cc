// SPARKBENCH_CPU_ISA holds for oneDNN too (engine/backends/cpu/onednn_isa.h): at each level this
// CPU has, a child process forces it and checks that oneDNN dispatches to the matching ISA, that
// describe() (the stored backend_info) names it, and that products oneDNN runs (prefill-sized f32,
// f16 tiles, and bf16 compute where the level allows it) still match ref.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "tests/engine/backend_test_util.h"
#include "tests/test_support.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu/onednn_isa.h"
#include "engine/backends/cpu_isa.h"
#include "tests/engine/isa_children.h"

using namespace sb;

namespace {

// y = x . w^T for a prompt-sized product (M rows: oneDNN on the cpu backend) on `b`.
std::vector<float> product(Backend& b, GgmlType type, int64_t M, int64_t K, int64_t N) {
  const auto wv = test::randn(size_t(N * K), 21, 0.1f);
  const auto q = test::quantized(type, wv, N, K);
  const WeightSource src{"w", type, N, K, q.data()};
  auto w = b.load_weight(src);
  Tensor x = test::make(b, M, K, test::randn(size_t(M * K), 22)), y = test::make(b, M, N, std::vector<float>(size_t(M * N), 0.0f));
  b.matmul(x, *w, y, nullptr, false);
  return test::get(b, y);
}

}  // namespace

// Run by the next case in a child process with SPARKBENCH_CPU_ISA set (hidden otherwise).
TEST_CASE("cpu backend at a forced ISA level: oneDNN capped there, its products match ref", "[.cpu_onednn_isa][backend]") {
  const char* forced = std::getenv("SPARKBENCH_CPU_ISA");
  REQUIRE(forced != nullptr);
  auto cpu = create_backend("cpu", {.threads = 2});
  const cpu::Isa isa = cpu::active_isa();
  CHECK(std::string(cpu::isa_name(isa)) == forced);
  INFO(cpu->describe());
  CHECK(std::string(cpu::onednn_isa_name()) == cpu::onednn_cap_name(isa));
  CHECK(cpu->describe().find(std::string("(isa ") + cpu::onednn_isa_name() + ")") != std::string::npos);
  auto ref = create_backend("ref");
  for (GgmlType t : {GgmlType::F32, GgmlType::F16}) {
    INFO(ggml_type_name(uint32_t(t)));
    CHECK(test::max_rel_err(product(*ref, t, 40, 256, 96), product(*cpu, t, 40, 256, 96)) <= 1e-4);
  }
  if (isa == cpu::Isa::Avx512Bf16) {
    // oneDNN implements bf16 matmul at avx512_core_bf16: bf16 compute runs, within bf16 rounding
    auto bf16 = create_backend("cpu", {.threads = 2, .compute = ComputeType::BF16});
    CHECK(test::max_rel_err(product(*ref, GgmlType::F32, 40, 256, 96), product(*bf16, GgmlType::F32, 40, 256, 96)) <= 5e-2);
  } else if (isa == cpu::Isa::Avx2 || isa == cpu::Isa::AvxVnni) {
    // below AVX-512 oneDNN has no bf16 matmul: bf16 compute is refused at start-up, naming the ISA
    try {
      (void)create_backend("cpu", {.threads = 2, .compute = ComputeType::BF16});
      FAIL("bf16 compute was accepted at " << forced);
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find(cpu::onednn_isa_name()) != std::string::npos);
    }
  }
}

TEST_CASE("SPARKBENCH_CPU_ISA caps oneDNN at every level this CPU has (child processes)", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    test::skip("this CPU lacks AVX2 (the cpu backend's minimum)");
    return;
  }
  test::run_tag_at_every_level("[cpu_onednn_isa]");
  // `model info` reports both levels, SPARKBENCH_CPU_ISA applied
  const std::string bin = test::sparkbench_bin();
  const std::string model = test::temp_dir("onednn-isa") + "/m.gguf";
  REQUIRE(test::run_process({bin, "model", "synth", "--preset", "codex-spark-mini", "-o", model}).exit_code == 0);
  for (cpu::Isa isa : cpu::available_isas()) {
    const auto r =
        test::run_process({"env", std::string("SPARKBENCH_CPU_ISA=") + cpu::isa_name(isa), bin, "model", "info", model, "--json"});
    INFO(cpu::isa_name(isa) << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["cpu_isa"] == cpu::isa_name(isa));
    CHECK(j["onednn_isa"] == cpu::onednn_cap_name(isa));
  }
}
#endif
