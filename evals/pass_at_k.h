// pass@k with the unbiased estimator of Chen et al. (2021): for a problem with n samples of
// which c pass, pass@k = 1 - C(n - c, k) / C(n, k), computed as the stable product
// 1 - prod_{i = n - c + 1}^{n} (1 - k / i). Requires 0 <= c <= n and 1 <= k <= n.
#pragma once

#include <cstdint>

#include "engine/core/error.h"

namespace sb {

inline double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (k < 1 || n < k || c < 0 || c > n) fail("pass@k: need 0 <= c <= n and 1 <= k <= n (n=", n, ", c=", c, ", k=", k, ")");
  if (n - c < k) return 1.0;
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - double(k) / double(i);
  return 1.0 - prod;
}

}  // namespace sb
