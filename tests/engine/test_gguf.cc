// GGUF reader/writer: round trips, every metadata type, validation of hostile files.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "engine/core/error.h"
#include "engine/core/half.h"
#include "engine/core/mmap_file.h"
#include "engine/gguf/gguf.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

GgufWriter small_writer() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("t.u8", GgufValue::u8(200));
  w.set("t.i8", GgufValue::i8(-100));
  w.set("t.u16", GgufValue::u16(60000));
  w.set("t.i16", GgufValue::i16(-30000));
  w.set("t.u32", GgufValue::u32(4000000000u));
  w.set("t.i32", GgufValue::i32(-2000000000));
  w.set("t.u64", GgufValue::u64(uint64_t(1) << 60));
  w.set("t.i64", GgufValue::i64(-(int64_t(1) << 60)));
  w.set("t.f32", GgufValue::f32(1.5f));
  w.set("t.f64", GgufValue::f64(-2.25));
  w.set("t.bool", GgufValue::boolean(true));
  w.set("t.str", GgufValue::string("héllo\nworld"));
  w.set("t.strs", GgufValue::strings({"a", "", "ccc"}));
  std::vector<GgufValue> inner1{GgufValue::i32(1), GgufValue::i32(2)};
  std::vector<GgufValue> inner2{GgufValue::i32(3)};
  w.set("t.nested",
        GgufValue::array(GgufType::ARRAY, {GgufValue::array(GgufType::INT32, inner1), GgufValue::array(GgufType::INT32, inner2)}));
  w.set("t.empty", GgufValue::array(GgufType::FLOAT32, {}));
  std::vector<float> a(64 * 3);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.25f - 7.0f;
  std::vector<uint8_t> bytes(a.size() * 4);
  std::memcpy(bytes.data(), a.data(), bytes.size());
  w.add_tensor("a", GgmlType::F32, {64, 3}, bytes);
  std::vector<uint8_t> h(64 * 2);
  for (int i = 0; i < 64; ++i) {
    uint16_t v = f32_to_f16(float(i) / 8.0f);
    std::memcpy(h.data() + 2 * i, &v, 2);
  }
  w.add_tensor("b", GgmlType::F16, {64}, h);
  return w;
}

}  // namespace

TEST_CASE("gguf: writer output parses back with every metadata type", "[gguf][unit]") {
  for (uint32_t version : {2u, 3u}) {
    auto bytes = small_writer().serialize(version);
    auto f = GgufFile::parse(bytes.data(), bytes.size(), "mem.gguf");
    CHECK(f->version() == version);
    CHECK(f->get_int("t.u8", 0) == 200);
    CHECK(f->get_int("t.i8", 0) == -100);
    CHECK(f->get_int("t.u16", 0) == 60000);
    CHECK(f->get_int("t.i16", 0) == -30000);
    CHECK(f->get_int("t.u32", 0) == 4000000000LL);
    CHECK(f->get_int("t.i32", 0) == -2000000000LL);
    CHECK(f->find("t.u64")->as_uint() == uint64_t(1) << 60);
    CHECK(f->get_int("t.i64", 0) == -(int64_t(1) << 60));
    CHECK(f->get_float("t.f32", 0) == 1.5);
    CHECK(f->get_float("t.f64", 0) == -2.25);
    CHECK(f->get_bool("t.bool", false));
    CHECK(f->get_string("t.str", "") == "héllo\nworld");
    const auto& strs = f->find("t.strs")->as_array();
    REQUIRE(strs.size() == 3);
    CHECK(strs[2].as_string() == "ccc");
    const auto& nested = f->find("t.nested")->as_array();
    REQUIRE(nested.size() == 2);
    CHECK(nested[0].as_array()[1].as_int() == 2);
    CHECK(nested[1].as_array()[0].as_int() == 3);
    CHECK(f->find("t.empty")->as_array().empty());
    CHECK(f->metadata().front().first == "general.architecture");  // order kept

    REQUIRE(f->tensors().size() == 2);
    const GgufTensorInfo* a = f->tensor("a");
    REQUIRE(a);
    CHECK(a->ne == std::vector<int64_t>{64, 3});
    CHECK(a->offset % f->alignment() == 0);
    auto av = f->tensor_f32(*a);
    CHECK(av[5] == Approx(5 * 0.25 - 7.0));
    const GgufTensorInfo* b = f->tensor("b");
    REQUIRE(b);
    CHECK(b->offset % 32 == 0);
    CHECK(f->tensor_f32(*b)[63] == Approx(63.0 / 8.0));
  }
}

TEST_CASE("gguf: type errors name the file and key", "[gguf][unit]") {
  auto bytes = small_writer().serialize();
  auto f = GgufFile::parse(bytes.data(), bytes.size(), "mem.gguf");
  try {
    (void)f->get_int("t.str", 0);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("mem.gguf: metadata 't.str'") != std::string::npos);
  }
  CHECK_THROWS_AS(f->require_int("no.such.key"), Error);
}

TEST_CASE("gguf: custom alignment is honoured", "[gguf][unit]") {
  GgufWriter w = small_writer();
  w.set("general.alignment", GgufValue::u32(64));
  auto bytes = w.serialize();
  auto f = GgufFile::parse(bytes.data(), bytes.size(), "mem.gguf");
  CHECK(f->alignment() == 64);
  CHECK(f->data_offset() % 64 == 0);
  for (const auto& t : f->tensors()) CHECK(t.offset % 64 == 0);
}

namespace {

std::string parse_error(std::vector<uint8_t> bytes) {
  try {
    GgufFile::parse(bytes.data(), bytes.size(), "bad.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

}  // namespace

TEST_CASE("gguf: hostile headers give one-line errors", "[gguf][unit]") {
  auto good = small_writer().serialize();
  SECTION("bad magic") {
    auto b = good;
    b[0] = 'X';
    CHECK(parse_error(b) == "bad.gguf: not a GGUF file (bad magic at byte 0)");
  }
  SECTION("too short") { CHECK(parse_error({'G', 'G'}).find("too short") != std::string::npos); }
  SECTION("version 1 and 99") {
    auto b = good;
    b[4] = 1;
    CHECK(parse_error(b).find("version 1 is not supported") != std::string::npos);
    b[4] = 99;
    CHECK(parse_error(b).find("unsupported GGUF version 99") != std::string::npos);
  }
  SECTION("tensor count 2^62") {
    auto b = good;
    put_u64(b, 8, uint64_t(1) << 62);
    CHECK(parse_error(b).find("tensor count") != std::string::npos);
  }
  SECTION("metadata count 2^62") {
    auto b = good;
    put_u64(b, 16, uint64_t(1) << 62);
    CHECK(parse_error(b).find("metadata count") != std::string::npos);
  }
  SECTION("key length past end") {
    auto b = good;
    put_u64(b, 24, uint64_t(1) << 40);
    CHECK(parse_error(b).find("past end of file") != std::string::npos);
  }
  SECTION("truncated anywhere") {
    for (size_t cut : {size_t(30), good.size() / 3, good.size() / 2, good.size() - 1}) {
      std::vector<uint8_t> b(good.begin(), good.begin() + long(cut));
      std::string err = parse_error(b);
      INFO("cut at " << cut);
      CHECK(err.rfind("bad.gguf: ", 0) == 0);
      CHECK(err.find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("gguf: tensor data past end of file names the tensor", "[gguf][unit]") {
  auto good = small_writer().serialize();
  std::vector<uint8_t> b(good.begin(), good.end() - 100);
  CHECK(parse_error(b).find("tensor 'b' data ends past end of file") != std::string::npos);
}

TEST_CASE("gguf: absurd tensor dimensions and types are rejected", "[gguf][unit]") {
  GgufWriter w;
  std::vector<uint8_t> data(4 * 8);
  w.add_tensor("t", GgmlType::F32, {8}, data);
  auto good = w.serialize();
  // layout: header(24) + tensor name (8 + 1) + n_dims(4) + dim(8) + type(4) + offset(8)
  const size_t dims_at = 24 + 9, dim0_at = dims_at + 4, type_at = dim0_at + 8, off_at = type_at + 4;
  {
    auto b = good;
    b[dims_at] = 9;
    CHECK(parse_error(b).find("has 9 dimensions") != std::string::npos);
  }
  {
    auto b = good;
    put_u64(b, dim0_at, uint64_t(1) << 62);
    CHECK(parse_error(b).find("out of range") != std::string::npos);
  }
  {
    auto b = good;
    b[type_at] = 77;
    CHECK(parse_error(b).find("has type type 77 (unknown to ggml), which sparkbench does not support") != std::string::npos);
  }
  {
    auto b = good;
    b[type_at] = 16;
    CHECK(parse_error(b).find("tensor 't' has type IQ2_XXS (16), which sparkbench does not support") != std::string::npos);
  }
  {
    auto b = good;
    put_u64(b, off_at, 1u << 20);
    CHECK(parse_error(b).find("data ends past end of file") != std::string::npos);
  }
  {
    auto b = good;
    put_u64(b, off_at, 3);
    CHECK(parse_error(b).find("not a multiple of the alignment") != std::string::npos);
  }
}

TEST_CASE("gguf: quantized row formats round trip within their precision", "[gguf][unit]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(256);
  for (auto& v : x) v = nd(rng);
  struct Case {
    GgmlType t;
    double tol;
  };
  for (auto c : {Case{GgmlType::F32, 0.0}, Case{GgmlType::F16, 2e-3}, Case{GgmlType::BF16, 1.6e-2}, Case{GgmlType::Q8_0, 0.02},
                 Case{GgmlType::Q4_0, 0.35}}) {
    std::vector<uint8_t> q(static_cast<size_t>(ggml_row_bytes(c.t, 256)));
    quantize_row(c.t, x.data(), q.data(), 256);
    std::vector<float> y(256);
    dequantize_row(c.t, q.data(), y.data(), 256);
    double max_err = 0, max_abs = 0;
    for (int i = 0; i < 256; ++i) {
      max_err = std::max(max_err, double(std::fabs(x[i] - y[i])));
      max_abs = std::max(max_abs, double(std::fabs(x[i])));
    }
    INFO(ggml_type_name(uint32_t(c.t)));
    CHECK(max_err <= c.tol * std::max(1.0, max_abs));
  }
  // Q4_0 matches ggml's block layout: low nibbles hold elements 0..15.
  std::vector<float> ramp(32);
  for (int i = 0; i < 32; ++i) ramp[i] = float(i - 16);
  BlockQ4_0 blk;
  quantize_row(GgmlType::Q4_0, ramp.data(), &blk, 32);
  CHECK(f16_to_f32(blk.d) == Approx(2.0));  // max magnitude -16 -> d = -16 / -8
  CHECK((blk.qs[0] & 0x0f) == 0);           // -16 / 2 + 8 = 0
  CHECK((blk.qs[0] >> 4) == 8);             // element 16 = 0 -> 8
}

TEST_CASE("gguf: f16 and bf16 conversions round to nearest even", "[gguf][unit]") {
  CHECK(f16_to_f32(f32_to_f16(1.0f)) == 1.0f);
  CHECK(f32_to_f16(65504.0f) == 0x7bff);
  CHECK(f32_to_f16(70000.0f) == 0x7c00);
  CHECK(f32_to_f16(5.9604645e-8f) == 0x0001);  // smallest subnormal
  CHECK(f16_to_f32(0x0001) == 5.9604645e-8f);
  CHECK(f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00);  // tie -> even
  CHECK(f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02);
  for (uint32_t h = 0; h < 0x7c00; ++h) CHECK(f32_to_f16(f16_to_f32(uint16_t(h))) == h);
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_f32(f32_to_bf16(3.140625f)) == 3.140625f);
}

TEST_CASE("gguf: reads the real stories260K model", "[gguf][shared]") {
  if (test::skip_without_shared()) return;
  auto f = GgufFile::open(test::shared_path("models/stories260K.gguf"));
  CHECK(f->get_string("general.architecture", "") == "llama");
  CHECK(f->tensors().size() == 48);
  CHECK(f->find("tokenizer.ggml.tokens")->as_array().size() == 512);
  // Writing it back out and re-reading gives the same metadata and tensor bytes.
  GgufWriter w;
  w.copy_metadata(*f);
  for (const auto& t : f->tensors()) w.add_tensor_ref(t.name, t.type, t.ne, f->tensor_data(t), t.nbytes);
  std::string dir = test::temp_dir("gguf");
  w.write(dir + "/copy.gguf");
  auto g = GgufFile::open(dir + "/copy.gguf");
  REQUIRE(g->metadata().size() == f->metadata().size());
  REQUIRE(g->tensors().size() == f->tensors().size());
  for (const auto& t : f->tensors()) {
    const GgufTensorInfo* u = g->tensor(t.name);
    REQUIRE(u);
    CHECK(u->ne == t.ne);
    CHECK(std::memcmp(g->tensor_data(*u), f->tensor_data(t), t.nbytes) == 0);
  }
  // The original was written by llama.cpp's writer: our layout reproduces it byte for byte.
  MappedFile a(test::shared_path("models/stories260K.gguf")), b(dir + "/copy.gguf");
  REQUIRE(a.size() == b.size());
  CHECK(std::memcmp(a.data(), b.data(), a.size()) == 0);
}
