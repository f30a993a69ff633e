// Backend front functions (engine/backends/backend.h): every backend refuses operands of the
// wrong shape with the same one-line sb::Error, before its own implementation runs, and
// supports() answers per op and weight type.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/core/error.h"

using namespace sb;

TEST_CASE("backend front: wrong shapes are refused the same way by every backend", "[backend][unit]") {
  for (const auto& name : available_backends()) {
    INFO(name);
    auto b = create_backend(name, {.threads = 1});
    std::vector<float> w(16 * 8, 0.01f);
    WeightSource src{"w", GgmlType::F32, 16, 8, w.data()};  // 16 outputs x 8 inputs
    auto weight = b->load_weight(src);
    Tensor x = b->alloc(3, 8, DType::F32), y = b->alloc(3, 16, DType::F32), wrong = b->alloc(3, 7, DType::F32);
    CHECK_THROWS_WITH(b->matmul(wrong, *weight, y), "matmul: x is 3 x 7 but the weight has 8 inputs");
    CHECK_THROWS_WITH(b->matmul(x, *weight, wrong), "matmul: y is 3 x 7 for x of 3 x 8 and 16 outputs");
    Tensor bias = b->alloc(1, 15, DType::F32);
    CHECK_THROWS_WITH(b->matmul(x, *weight, y, &bias), "matmul: bias is 1 x 15 for 16 outputs");
    CHECK_THROWS_WITH(b->add(x, wrong), "add: x is 3 x 8 but y is 3 x 7");
    CHECK_THROWS_WITH(b->swiglu(x, x, wrong), "swiglu: out is 3 x 7 but gate is 3 x 8");
    Tensor norm = b->alloc(1, 7, DType::F32);
    CHECK_THROWS_WITH(b->rmsnorm(x, norm, 1e-5f, x), "rmsnorm: weight is 1 x 7 for x of 3 x 8");
    CHECK_THROWS_WITH(b->softcap(x, 0.0f), "softcap: cap 0 must be positive");
    const int32_t ids[3] = {0, 1, 16};
    CHECK_THROWS_WITH(b->embed(*weight, ids, 3, x), "embed: token id 16 at 2 is outside the table's 16 rows");
    auto kv = b->create_kv_cache(2, 4, 8, DType::F32);
    Tensor k = b->alloc(3, 8, DType::F32);
    CHECK_THROWS_WITH(b->kv_store(*kv, 2, k, k, 0), "kv_store: layer 2 of 2");
    CHECK_THROWS_WITH(b->kv_store(*kv, 0, k, k, 2), "kv_store: positions 2 .. 4 outside the cache's 4");
    AttentionShape s;
    s.n_head = 2, s.n_head_kv = 2, s.head_dim = 4, s.n_rot = 4;
    Tensor out = b->alloc(3, 8, DType::F32);
    CHECK_THROWS_WITH(b->attention(x, *kv, 0, 2, s, out), "attention: positions 2 .. 4 outside the cache's 4");
    CHECK_THROWS_WITH(b->rope(wrong, 2, s, 0), "rope: x is 3 x 7 for 2 heads of 4");
    // Shapes that fit go through to the backend.
    CHECK_NOTHROW(b->matmul(x, *weight, y));
    CHECK_NOTHROW(b->kv_store(*kv, 1, k, k, 1));
  }
}

TEST_CASE("backend front: supports() answers per op and weight type", "[backend][unit]") {
  for (const auto& name : available_backends()) {
    INFO(name);
    auto b = create_backend(name, {.threads = 1});
    CHECK(b->supports(Backend::Op::matmul, GgmlType::F32));
    CHECK(b->supports(Backend::Op::matmul, GgmlType::Q4_0));
    CHECK(b->supports(Backend::Op::add, GgmlType::F32));
    CHECK(b->supports(Backend::Op::matmul, GgmlType::F32, WeightFormat::Int8PerChannel) ==
          b->supports_format(WeightFormat::Int8PerChannel));
    CHECK_FALSE(b->supports(Backend::Op::matmul, GgmlType(16)));  // IQ2_XXS: not read by sparkbench
  }
}
