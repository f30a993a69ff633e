// StoreCache: the results store's request_cache table as an evals RequestCache (cached_lm.h).
// With a mutex, every access holds it (worker threads share one store, which is not
// thread-safe; the same mutex must guard the caller's other uses of the store).
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "evals/cached_lm.h"
#include "reports/store.h"

namespace sb::cli {

class StoreCache : public RequestCache {
 public:
  explicit StoreCache(Store& s, std::mutex* mu = nullptr) : s_(s), mu_(mu) {}
  std::optional<std::string> get(const std::string& key) override {
    auto l = lock();
    return s_.cache_get(key);
  }
  void put(const std::string& key, const std::string& value) override {
    auto l = lock();
    s_.cache_put(key, value);
  }

 private:
  std::unique_lock<std::mutex> lock() { return mu_ ? std::unique_lock<std::mutex>(*mu_) : std::unique_lock<std::mutex>(); }
  Store& s_;
  std::mutex* mu_;
};

}  // namespace sb::cli
