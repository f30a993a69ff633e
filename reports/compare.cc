// compare: reading runs from the results database; the decisions are reports/compare_decide.cc,
// the renderings reports/compare_render.cc (reports/compare.h).
#include "reports/compare.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "engine/core/error.h"

namespace sb::compare {

RunRecord resolve_run(Store& store, const std::string& ref, const std::string& db_path) {
  if (ref.rfind("latest~", 0) == 0) {
    const std::string k = ref.substr(7);
    if (k.empty() || k.size() > 9 || k.find_first_not_of("0123456789") != std::string::npos)
      fail(db_path, ": bad run reference '", ref, "' (latest~N needs a number N)");
    const int back = std::stoi(k);
    auto runs = store.list_runs(back + 1);
    if (int(runs.size()) <= back) fail(db_path, ": no run '", ref, "': the database holds only ", runs.size(), " runs");
    return runs[size_t(back)];
  }
  auto r = store.find_run(ref);
  if (!r) fail(db_path, ": no run '", ref, "' (give a run id, a label, 'latest' or 'latest~N')");
  return *r;
}

std::unique_ptr<Store> open_existing(const std::string& path) {
  if (path.empty()) fail("cannot open database: empty path");
  if (path != ":memory:") {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      fail(path, ": cannot open database: ", std::strerror(errno), errno == ENOENT ? " (no results database at this path)" : "");
    if (S_ISDIR(st.st_mode)) fail(path, ": cannot open database: is a directory, not a results database");
  }
  return Store::open(path);
}

RunData load_run(Store& store, const RunRecord& run) {
  RunData d;
  d.run = run;
  d.metrics = store.metrics(run.id);
  d.samples = store.samples(run.id);
  d.speed = store.speeds(run.id);
  d.kernels = store.kernels(run.id);
  return d;
}

}  // namespace sb::compare
