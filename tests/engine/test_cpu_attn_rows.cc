// cpu/kernels.h's row-batched decode-attention kernels against the one-row kernels they replace:
// dot_rows_dtype equals dot_dtype x scale row by row and axpy_rows_dtype equals axpy_dtype called
// row by row, bit for bit, for every KV dtype, head sizes with and without a vector tail, and row
// counts from none to long contexts (rows `stride` bytes apart, as in the KV cache).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if SPARKBENCH_WITH_DNNL  // the cpu backend's kernels are built only with oneDNN
#include "engine/backends/cpu/kernels.h"
#include "engine/backends/host.h"
#include "tests/engine/backend_test_util.h"
#include "tests/test_support.h"

using namespace sb;

TEST_CASE("cpu kernels: dot_rows_dtype and axpy_rows_dtype equal the one-row kernels bit for bit", "[backend][unit]") {
  if (!cpu::cpu_supported()) return test::skip("this CPU lacks AVX2");
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t n : {1, 7, 8, 32, 64, 72, 80, 128, 130, 200}) {
      for (int64_t rows : {0, 1, 5, 33, 300}) {
        INFO("dtype " << int(dt) << " n " << n << " rows " << rows);
        const int64_t row_elems = n * 3 + 5;  // other heads between one row's head and the next
        const size_t stride = size_t(row_elems) * dtype_size(dt);
        const auto src = test::randn(size_t(std::max<int64_t>(rows, 1) * row_elems), uint64_t(n * 1000 + rows));
        std::vector<char> kv(size_t(std::max<int64_t>(rows, 1)) * stride);
        cpu::convert_from_f32(dt, src.data(), kv.data(), int64_t(src.size()));
        const char* head = kv.data() + size_t(n) * dtype_size(dt);  // the second head of each row
        const auto a = test::randn(size_t(n), 7);
        const float scale = 0.125f;
        std::vector<float> got(size_t(rows) + 1, -1.0f), want(size_t(rows) + 1, -1.0f);
        cpu::dot_rows_dtype(a.data(), dt, head, stride, rows, n, scale, got.data());
        for (int64_t r = 0; r < rows; ++r) want[size_t(r)] = cpu::dot_dtype(a.data(), dt, head + size_t(r) * stride, n) * scale;
        CHECK(std::memcmp(got.data(), want.data(), got.size() * 4) == 0);  // and the element past the end untouched
        auto alpha = test::randn(size_t(rows) + 1, 9);
        std::vector<float> y = test::randn(size_t(n) + 1, 11), y2 = y;
        cpu::axpy_rows_dtype(alpha.data(), dt, head, stride, rows, y.data(), n);
        for (int64_t r = 0; r < rows; ++r) cpu::axpy_dtype(alpha[size_t(r)], dt, head + size_t(r) * stride, y2.data(), n);
        CHECK(std::memcmp(y.data(), y2.data(), y.size() * 4) == 0);
      }
    }
  }
}

#endif
