#include "engine/backends/cpu/qgemv.h"

#include <algorithm>
#include <cstring>

#include "engine/backends/cpu/qdot.h"
#include "engine/backends/cpu/int_level.h"
#include "engine/core/error.h"
#include "engine/gguf/block_dequant.h"

namespace sb::cpu {
namespace qgemv_avx2 {
const QgemvKernels& kernels();
}
namespace qgemv_avxvnni {
const QgemvKernels& kernels();
}
namespace qgemv_avx512 {
const QgemvKernels& kernels();
}
namespace qgemv_avx512vnni {
const QgemvKernels& kernels();
}

std::span<const GgmlType> qgemv_type_list() {
  static constexpr GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                        GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
  return kTypes;
}

bool qgemv_supported(GgmlType t) {
  const auto types = qgemv_type_list();
  return std::find(types.begin(), types.end(), t) != types.end();
}

bool qgemv_pays(GgmlType t, Isa isa) {
  if (!qgemv_supported(t)) return false;
  if (t == GgmlType::Q8_0) return isa == Isa::AvxVnni || isa >= Isa::Avx512Vnni;
  if (q8_act_kind(t) == 2) return isa >= Isa::Avx512;
  return true;
}

size_t qgemv_packed_bytes(GgmlType t, int64_t n, int64_t k) {
  const int64_t groups = (n + kGemvRows - 1) / kGemvRows;
  return size_t(groups * kGemvRows) * size_t(ggml_row_bytes(t, k));
}

namespace {

static_assert(KRecord::qs(false) + 32 * 4 * kGemvRows == kGemvRows * sizeof(BlockQ4_K));
static_assert(KRecord::qs(true) + 32 * 4 * kGemvRows == kGemvRows * sizeof(BlockQ5_K));
static_assert(KRecord::q6_qh + 16 * 4 * kGemvRows == kGemvRows * sizeof(BlockQ6_K));

// Copies 4 bytes of row l into lane l of the 16-lane vector at v.
inline void put_lane(uint8_t* v, int64_t l, const uint8_t* src) { std::memcpy(v + 4 * l, src, 4); }

// Q4_K / Q5_K records (qgemv.h): the source fields side by side, 4 bytes per lane.
template <class B>
void pack_k45(const uint8_t* w, size_t row_bytes, int64_t n, int64_t nb, uint8_t* out, int64_t g0, int64_t g1) {
  constexpr bool kQh = sizeof(B) == sizeof(BlockQ5_K);
  constexpr size_t rec = size_t(kGemvRows) * sizeof(B), qs_at = KRecord::qs(kQh);
  for (int64_t g = g0; g < g1; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* o = out + size_t(g * nb + b) * rec;
      std::memset(o, 0, rec);  // padding rows: d = dmin = 0
      for (int64_t l = 0; l < kGemvRows && g * kGemvRows + l < n; ++l) {
        B blk;
        std::memcpy(&blk, w + size_t(g * kGemvRows + l) * row_bytes + size_t(b) * sizeof(B), sizeof(B));
        std::memcpy(o + KRecord::d + 2 * l, &blk.d, 2);
        std::memcpy(o + KRecord::dmin + 2 * l, &blk.dmin, 2);
        for (int i = 0; i < 3; ++i) put_lane(o + KRecord::scales + 64 * i, l, blk.scales + 4 * i);
        if constexpr (kQh)
          for (int c = 0; c < 8; ++c) put_lane(o + KRecord::qh + 64 * c, l, blk.qh + 4 * c);
        for (int v = 0; v < 32; ++v) put_lane(o + qs_at + 64 * v, l, blk.qs + 4 * v);
      }
    }
}

void pack_q6k(const uint8_t* w, size_t row_bytes, int64_t n, int64_t nb, uint8_t* out, int64_t g0, int64_t g1) {
  constexpr size_t rec = size_t(kGemvRows) * sizeof(BlockQ6_K), ql_at = KRecord::q6_ql, qh_at = KRecord::q6_qh;
  for (int64_t g = g0; g < g1; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* o = out + size_t(g * nb + b) * rec;
      std::memset(o, 0, rec);  // padding rows: d = 0
      for (int64_t l = 0; l < kGemvRows && g * kGemvRows + l < n; ++l) {
        BlockQ6_K blk;
        std::memcpy(&blk, w + size_t(g * kGemvRows + l) * row_bytes + size_t(b) * sizeof(blk), sizeof(blk));
        std::memcpy(o + 2 * l, &blk.d, 2);
        for (int j = 0; j < 16; ++j) o[KRecord::q6_scales + 16 * j + l] = uint8_t(blk.scales[j]);
        // the block's 256 6-bit quants once, in order, then the record's ql and qh from them
        uint8_t q[kQK_K];
        for (int j = 0; j < 8; ++j) q6_k_quants32(blk, j, q + 32 * j);
        for (int c = 0; c < 32; ++c)
          for (int e = 0; e < 4; ++e) o[ql_at + 64 * c + 4 * l + e] = uint8_t((q[4 * c + e] & 15) | (q[128 + 4 * c + e] & 15) << 4);
        for (int v = 0; v < 16; ++v)
          for (int e = 0; e < 4; ++e) {
            int bits = 0;
            for (int i = 0; i < 4; ++i) bits |= (q[64 * i + 4 * v + e] >> 4) << (2 * i);
            o[qh_at + 64 * v + 4 * l + e] = uint8_t(bits);
          }
      }
    }
}

}  // namespace

void qgemv_pack(GgmlType t, const uint8_t* w, size_t row_bytes, int64_t n, int64_t k, uint8_t* out, int64_t g0, int64_t g1) {
  if (t == GgmlType::Q4_K) return pack_k45<BlockQ4_K>(w, row_bytes, n, k / kQK_K, out, g0, g1);
  if (t == GgmlType::Q5_K) return pack_k45<BlockQ5_K>(w, row_bytes, n, k / kQK_K, out, g0, g1);
  if (t == GgmlType::Q6_K) return pack_q6k(w, row_bytes, n, k / kQK_K, out, g0, g1);
  const int64_t nb = k / kQK;
  const bool q8 = t == GgmlType::Q8_0;
  // a source block is its header fields (d, then m for the min types, then qh for Q5) and the
  // quants; the record holds each header field for the 16 rows side by side, then the quants
  // interleaved 4 bytes at a time
  const size_t bb = size_t(ggml_block_bytes(t)), qbytes = q8 ? 32 : 16, hdr = bb - qbytes, rec = size_t(kGemvRows) * bb;
  size_t fields[3] = {2, 0, 0};
  int nf = 1;
  if (t == GgmlType::Q4_1 || t == GgmlType::Q5_1) fields[nf++] = 2;
  if (t == GgmlType::Q5_0 || t == GgmlType::Q5_1) fields[nf++] = 4;
  for (int64_t g = g0; g < g1; ++g) {
    uint8_t* o = out + size_t(g * nb) * rec;
    for (int64_t b = 0; b < nb; ++b, o += rec) {
      std::memset(o, 0, rec);
      for (int64_t l = 0; l < kGemvRows; ++l) {
        const int64_t row = g * kGemvRows + l;
        uint8_t* q = o + size_t(kGemvRows) * hdr + 4 * size_t(l);
        if (row >= n) {  // padding row: header fields 0 (scale 0); Q4_0 / Q8_0 quants at the zero point
          if (t == GgmlType::Q4_0 || q8)
            for (size_t c = 0; c < qbytes / 4; ++c) std::memset(q + c * 4 * kGemvRows, q8 ? 0x80 : 0x88, 4);
          continue;
        }
        const uint8_t* src = w + size_t(row) * row_bytes + size_t(b) * bb;
        size_t at = 0, fo = 0;
        for (int f = 0; f < nf; ++f) {
          std::memcpy(o + fo + fields[f] * size_t(l), src + at, fields[f]);
          at += fields[f];
          fo += fields[f] * size_t(kGemvRows);
        }
        for (size_t c = 0; c < qbytes / 4; ++c)
          for (size_t j = 0; j < 4; ++j) q[c * 4 * kGemvRows + j] = uint8_t(src[hdr + 4 * c + j] + (q8 ? 128 : 0));
      }
    }
  }
}

void qgemv_act_sums(GgmlType t, const void* xq, size_t xrow_bytes, int64_t m, int64_t k, int32_t* sums) {
  if (q8_act_kind(t) != 1) return;  // Q8KA rows carry their sums
  const int64_t nb = k / kQK;
  for (int64_t r = 0; r < m; ++r) {
    const auto* x = reinterpret_cast<const Q8A*>(static_cast<const uint8_t*>(xq) + size_t(r) * xrow_bytes);
    for (int64_t b = 0; b < nb; ++b) {
      int32_t s = 0;
      for (int e = 0; e < kQK; ++e) s += x[b].qs[e];
      sums[r * nb + b] = s;
    }
  }
}

const QgemvKernels& qgemv_kernels(Isa isa) {
  return pick_int_level<QgemvKernels>("qgemv_kernels", isa,
                                      {&qgemv_avx2::kernels, &qgemv_avxvnni::kernels, &qgemv_avx512::kernels, &qgemv_avx512vnni::kernels});
}

}  // namespace sb::cpu
