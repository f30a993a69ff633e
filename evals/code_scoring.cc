#include "evals/code_scoring.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"
#include "evals/pass_at_k.h"

namespace sb {

std::vector<ProblemTally> tally_by_problem(const CodeProblemSet& problems, const std::vector<CodeSample>& samples,
                                           const std::vector<SandboxResult>& results) {
  if (samples.size() != results.size()) fail("tally: ", samples.size(), " samples but ", results.size(), " results");
  std::vector<ProblemTally> by_index(problems.problems.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    auto it = problems.index.find(samples[i].task_id);
    if (it == problems.index.end()) fail("tally: sample ", i, " names unknown task_id \"", samples[i].task_id, "\"");
    ProblemTally& t = by_index[it->second];
    t.n += 1;
    t.c += results[i].passed() ? 1 : 0;
  }
  std::vector<ProblemTally> out;
  for (size_t p = 0; p < by_index.size(); ++p) {
    if (by_index[p].n == 0) continue;
    by_index[p].task_id = problems.problems[p].task_id;
    out.push_back(by_index[p]);
  }
  return out;
}

PassAtKReport compute_pass_at_k(const std::vector<ProblemTally>& tallies, const std::vector<int64_t>& ks) {
  PassAtKReport rep;
  for (int64_t k : ks) {
    if (k < 1) fail("pass@k: k must be >= 1, got ", k);
    if (tallies.empty()) {
      rep.dropped[k] = "no samples";
      continue;
    }
    const ProblemTally* fewest = &tallies[0];
    for (const auto& t : tallies)
      if (t.n < fewest->n) fewest = &t;
    if (fewest->n < k) {
      rep.dropped[k] = cat("needs at least ", k, " samples for every problem; ", fewest->task_id, " has ", fewest->n);
      continue;
    }
    double sum = 0;
    for (const auto& t : tallies) sum += pass_at_k(t.n, t.c, k);
    rep.values[k] = sum / double(tallies.size());
  }
  return rep;
}

std::vector<int64_t> parse_k_list(const std::string& text) {
  std::vector<int64_t> ks;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty() || item.size() > 9 || !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; }))
      fail("-k: expected a comma-separated list of positive integers, got '", text, "'");
    int64_t k = std::stoll(item);
    if (k < 1) fail("-k: k must be >= 1, got ", k);
    ks.push_back(k);
    pos = end + 1;
  }
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  return ks;
}

nlohmann::ordered_json sample_result_record(const CodeSample& sample, const SandboxResult& result) {
  nlohmann::ordered_json j = sample.record;
  j["passed"] = result.passed();
  j["outcome"] = outcome_name(result.outcome);
  j["result"] = result.detail;
  return j;
}

void write_jsonl_atomically(const std::string& path, const std::vector<nlohmann::ordered_json>& lines) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) fail(path, ": cannot create a temporary file in ", dir.string(), ": ", std::strerror(errno));
  auto cleanup_fail = [&](const std::string& what) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    fail(path, ": ", what, ": ", std::strerror(e));
  };
  std::string buf;
  for (const auto& j : lines) {
    buf += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    buf += '\n';
    if (buf.size() >= (1 << 20) || &j == &lines.back()) {
      size_t off = 0;
      while (off < buf.size()) {
        ssize_t w = ::write(fd, buf.data() + off, buf.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) cleanup_fail("write failed");
        off += size_t(w);
      }
      buf.clear();
    }
  }
  // mkstemp creates 0600; results are ordinary readable files. (umask() cannot be read without
  // changing it, which would race with other threads.)
  if (::fchmod(fd, 0644) != 0) cleanup_fail("chmod failed");
  if (::fsync(fd) != 0) cleanup_fail("fsync failed");
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmpl.c_str());
    fail(path, ": close failed: ", std::strerror(e));
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmpl.c_str());
    fail(path, ": cannot rename the temporary file into place: ", std::strerror(e));
  }
}

}  // namespace sb
