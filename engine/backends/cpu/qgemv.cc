#include "engine/backends/cpu/qgemv.h"

#include <cstring>

#include "engine/backends/cpu/qdot.h"
#include "engine/backends/cpu/int_level.h"
#include "engine/core/error.h"

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

bool qgemv_supported(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q8_0:
      return true;
    default:
      return false;
  }
}

size_t qgemv_packed_bytes(GgmlType t, int64_t n, int64_t k) {
  const int64_t groups = (n + kGemvRows - 1) / kGemvRows;
  return size_t(groups * kGemvRows) * size_t(ggml_row_bytes(t, k));
}

void qgemv_pack(GgmlType t, const uint8_t* w, size_t row_bytes, int64_t n, int64_t k, uint8_t* out, int64_t g0, int64_t g1) {
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

void qgemv_act_sums(const void* xq, size_t xrow_bytes, int64_t m, int64_t k, int32_t* sums) {
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
