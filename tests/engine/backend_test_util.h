// Helpers shared by the backend tests (test_backend_ops, test_cuda_backend, test_variants,
// test_variants_model): seeded data, host <-> backend copies, error measures, GGUF quantization.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "engine/gguf/ggml_types.h"
#include "tests/test_support.h"

namespace sb::test {

// n normal values (mean 0, sd `scale`) from a seeded generator.
inline std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// An f32 tensor on `b` holding v (rows x cols values).
inline Tensor make(Backend& b, int64_t rows, int64_t cols, const std::vector<float>& v) {
  Tensor t = b.alloc(rows, cols, DType::F32);
  b.upload(t, v.data());
  return t;
}

// The values of an f32 tensor, copied to the host.
inline std::vector<float> get(Backend& b, const Tensor& t) {
  std::vector<float> v(size_t(t.rows() * t.cols()));
  b.download(t, v.data());
  return v;
}

// max_rel_err, max_abs_err, nmse: NaN-aware, in tests/test_support.h.

// rows x cols f32 weights as GGUF type t (ggml's row quantizers).
inline std::vector<uint8_t> quantized(GgmlType t, const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> q(size_t(ggml_row_bytes(t, cols) * rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, w.data() + r * cols, q.data() + size_t(r * ggml_row_bytes(t, cols)), cols);
  return q;
}

// Every usable backend but ref (the devices under test); one that is compiled in but unusable
// here is reported as UNSUPPORTED and left out; none at all is a skip (call this first).
inline std::vector<std::unique_ptr<Backend>> non_ref_backends() {
  std::vector<std::unique_ptr<Backend>> out;
  for (const auto& name : available_backends()) {
    if (name == "ref") continue;
    try {
      out.push_back(create_backend(name, {.threads = 2}));
    } catch (const Error& e) {
      unsupported("backend " + name + " unavailable here: " + e.what());
    }
  }
  if (out.empty()) skip("only the ref backend is usable here");
  return out;
}

}  // namespace sb::test
