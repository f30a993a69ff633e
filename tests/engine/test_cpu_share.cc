// cpu::share_items (engine/backends/cpu/share.h): every item of [0, n) is run exactly once, in
// ranges of at most `per` items for a team of two (thread 0's ascending from 0, thread 1's
// descending from n) and in one contiguous range per thread for other team sizes, for sizes
// that do and do not divide evenly, including n smaller than a claim and n = 0; a claim is never over a 16th of the items.
#include <catch2/catch.hpp>

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <utility>
#include <vector>

#if SPARKBENCH_WITH_DNNL  // the cpu backend's kernels are built only with oneDNN
#include "engine/backends/cpu/share.h"

namespace {

struct Seen {
  std::vector<int> count;
  std::vector<std::vector<std::pair<int64_t, int64_t>>> ranges;  // per thread, in call order
};

Seen run(int threads, int64_t n, int64_t per) {
  Seen s;
  s.count.assign(size_t(n), 0);
  s.ranges.resize(size_t(threads));
  std::atomic<int64_t> taken{0};
  std::mutex mu;
#pragma omp parallel num_threads(threads)
  sb::cpu::share_items(n, per, taken, [&](int64_t i0, int64_t i1) {
    std::lock_guard<std::mutex> lock(mu);
    s.ranges[size_t(omp_get_thread_num())].push_back({i0, i1});
    for (int64_t i = i0; i < i1; ++i) ++s.count[size_t(i)];
  });
  return s;
}

}  // namespace

TEST_CASE("cpu share_items: every item once; two threads meet, others split evenly", "[backend][unit]") {
  for (int threads : {1, 2, 3}) {
    for (int64_t n : {0, 1, 5, 64, 1000, 1001}) {
      for (int64_t per : {1, 3, 16, 5000}) {
        INFO("threads " << threads << " n " << n << " per " << per);
        const Seen s = run(threads, n, per);
        bool once = true;
        for (int c : s.count) once = once && c == 1;
        CHECK(once);
        for (int t = 0; t < threads; ++t) {
          const auto& r = s.ranges[size_t(t)];
          if (threads == 2 && !sb::cpu::static_split()) {  // claims of at most `per`, thread 0 ascending from 0, thread 1 descending from n
            int64_t cursor = t == 0 ? 0 : n;
            for (const auto& [i0, i1] : r) {
              CHECK(i1 > i0);
              CHECK(i1 - i0 <= std::min(per, (n + 15) / 16));  // at most a 16th of the items a claim
              CHECK((t == 0 ? i0 : i1) == cursor);
              cursor = t == 0 ? i1 : i0;
            }
          } else {  // one contiguous equal share
            CHECK(r.size() <= 1);
            if (!r.empty()) {
              CHECK(r[0].first == n * t / threads);
              CHECK(r[0].second == n * (t + 1) / threads);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("cpu share_items: a small product is split between two threads however large the claim", "[backend][unit]") {
  // codex-spark's wo in Q8_0: 32 chunks, a 512 KiB claim would be 60 of them
  if (sb::cpu::static_split()) {
    std::printf("SKIPPED: SPARKBENCH_CPU_SPLIT=static gives fixed halves\n");
    return;
  }
  const Seen s = run(2, 32, sb::cpu::claim_items(16.0 * 544));
  size_t claims = s.ranges[0].size() + s.ranges[1].size();
  CHECK(claims == 16);  // 2 chunks a claim
}

#endif
