// Software prefetch on a decode kernel's weight stream: how far ahead, one rule for the decode
// kernels that stream block weights (the qgemv records and the qdot rows). Include it only from
// files built with at least SSE (every cpu kernel file is).
// Measured (2 threads): on an Intel Xeon (Emerald Rapids, KVM) the hardware prefetchers left each
// thread latency-bound on sequential block streams without it (1B Q4_0 GEMV decode 26-28 -> 36-37
// tokens/s at 4-9 KB ahead; 576 B: no gain; 18 KB: less); on the Zen 5 box the K-quant GEMV, whose
// records are read out of order inside, gained 40 -> 62 tokens/s (1B Q6_K).
#pragma once

#include <immintrin.h>

#include <cstddef>

namespace sb::cpu {

constexpr size_t kPrefetchAhead = 4096;  // bytes

// Prefetches the `bytes` bytes starting at p, one request per 64-byte line.
inline void prefetch_lines(const void* p, size_t bytes) {
  for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(static_cast<const char*>(p) + o, _MM_HINT_T0);
}
// Prefetches the `bytes` bytes starting kPrefetchAhead bytes after p.
inline void prefetch_ahead(const void* p, size_t bytes) { prefetch_lines(static_cast<const char*>(p) + kPrefetchAhead, bytes); }

}  // namespace sb::cpu
