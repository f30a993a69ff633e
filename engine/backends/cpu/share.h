// How a decode product's row chunks are shared among the threads of one parallel region.
// Decode streams every weight from memory once per token, and the cores' shares of the memory
// bandwidth differ from moment to moment (and a thread may lose its core on a busy machine), so
// fixed equal halves leave one thread waiting at the join. share_items(n, per, taken, f), called
// by every thread of the enclosing region (omp), runs f(i0, i1) on disjoint ranges that cover
// [0, n) exactly once:
//   - a team of two: thread 0 claims `per` items at a time from the front, thread 1 from the
//     back, counting claims in `taken` (shared, zero before the region); the ranges meet where
//     the faster thread reaches the slower, and each thread streams its rows in order (measured
//     slower: claims handed out in turn, which interleave the two threads' streams). A claim is
//     at most a 16th of the items (rounded up), however large `per`: a small product (codex-
//     spark's 0.3 MB attention projections) under one ~512 KiB claim went to one thread while the
//     other waited at the join;
//   - any other team size, or SPARKBENCH_CPU_SPLIT=static: contiguous equal shares (thread id
//     of nth gets [n*id/nth, n*(id+1)/nth)); `taken` is unused.
// No barrier at the end. Callers must make an item's result independent of the thread that
// computes it (every decode kernel does: rows are independent).
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace sb::cpu {

// SPARKBENCH_CPU_SPLIT: "meet" (default) or "static"; any other value fails (sb::Error).
bool static_split();

template <class F>
void share_items(int64_t n, int64_t per, std::atomic<int64_t>& taken, F&& f) {
  const int id = omp_get_thread_num(), nth = omp_get_num_threads();
  if (nth != 2 || static_split()) {
    const int64_t i0 = n * id / nth, i1 = n * (id + 1) / nth;
    if (i0 < i1) f(i0, i1);
    return;
  }
  per = std::max<int64_t>(1, std::min(per, (n + 15) / 16));
  int64_t cursor = id == 0 ? 0 : n;  // thread 0 walks up from 0, thread 1 down from n
  for (;;) {
    const int64_t k = taken.fetch_add(per, std::memory_order_relaxed);
    if (k >= n) return;
    const int64_t c = std::min(per, n - k);
    if (id == 0) {
      f(cursor, cursor + c);
      cursor += c;
    } else {
      f(cursor - c, cursor);
      cursor -= c;
    }
  }
}

// Items per claim for items of `bytes` weight bytes each: about 512 KiB of weights a claim.
inline int64_t claim_items(double bytes) { return std::max<int64_t>(1, int64_t(512.0 * 1024 / std::max(1.0, bytes))); }

}  // namespace sb::cpu
