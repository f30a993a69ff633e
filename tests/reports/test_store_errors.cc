// Results store failures: unopenable paths, files that are not databases, corrupt and truncated
// databases. Each must give one line naming the path (sb::Error), never a crash.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "engine/core/error.h"
#include "reports/store.h"
#include "tests/reports/test_store_util.h"

using namespace sb;
using sb::test::db_path;
using sb::test::temp_dir;

namespace {

// Runs f, which must throw sb::Error; returns the message after checking it is one line that
// starts with `path`.
template <class F>
std::string one_line_error(const std::string& path, F&& f) {
  try {
    f();
  } catch (const sb::Error& e) {
    std::string msg = e.what();
    INFO(msg);
    CHECK(msg.rfind(path, 0) == 0);
    CHECK(msg.find('\n') == std::string::npos);
    return msg;
  }
  FAIL("no sb::Error for " << path);
  return {};
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng() & 0xff);
  return s;
}

// A real results database of a few hundred pages, closed (its WAL checkpointed away).
std::string make_db(const std::string& tag, int64_t* run) {
  std::string path = db_path(tag);
  auto st = Store::open(path);
  *run = st->begin_run({});
  std::vector<SampleRow> rows;
  for (int i = 0; i < 2000; ++i) {
    SampleRow s;
    s.task = "qa";
    s.sample_id = "qa/" + std::to_string(i);
    s.output = random_bytes(300, uint32_t(i)) + "x";
    for (char& c : s.output) c = char('a' + (uint8_t(c) % 26));
    rows.push_back(s);
  }
  st->add_samples(*run, rows);
  MetricRow m;
  m.task = "qa";
  m.metric = "exact_match";
  st->add_metric(*run, m);
  st->finish_run(*run, "complete");
  return path;
}

// Opens, reads everything and verifies; must fail with one line naming the path.
void open_read_verify(const std::string& path, int64_t run) {
  auto st = Store::open(path);
  st->list_runs();
  st->samples(run);
  st->metrics(run);
  st->verify(true);
}

}  // namespace

TEST_CASE("store errors: a path that cannot be created", "[store][unit]") {
  std::string dir = temp_dir("store-err-path");
  std::string missing = dir + "/no/such/dir/results.db";
  std::string msg = one_line_error(missing, [&] { Store::open(missing); });
  CHECK(msg.find("cannot open database: unable to open database file") != std::string::npos);

  std::string file = dir + "/plain";
  std::ofstream(file) << "x";
  std::string below_file = file + "/results.db";
  one_line_error(below_file, [&] { Store::open(below_file); });
  one_line_error(dir, [&] { Store::open(dir); });  // a directory

  if (std::filesystem::is_directory("/proc/self")) {  // unwritable even for root
    std::string proc = "/proc/sparkbench-results.db";
    one_line_error(proc, [&] { Store::open(proc); });
  }
  if (::geteuid() != 0) {  // root ignores permissions
    std::string ro = dir + "/readonly";
    std::filesystem::create_directory(ro);
    ::chmod(ro.c_str(), 0555);
    std::string p = ro + "/results.db";
    one_line_error(p, [&] { Store::open(p); });
    ::chmod(ro.c_str(), 0755);
  }
  CHECK_THROWS_AS(Store::open(""), sb::Error);
}

TEST_CASE("store errors: a file that is not a database", "[store][unit]") {
  std::string path = db_path("store-err-notdb");
  std::ofstream(path, std::ios::binary) << random_bytes(8192, 1);
  std::string msg = one_line_error(path, [&] { Store::open(path); });
  CHECK(msg == path + ": cannot open database: file is not a database");

  std::string text = db_path("store-err-text");
  std::ofstream(text) << "run,task,value\n1,qa,0.5\n";
  one_line_error(text, [&] { Store::open(text); });
}

TEST_CASE("store errors: a database with corrupt middle pages", "[store][unit]") {
  int64_t run = 0;
  std::string path = make_db("store-err-corrupt", &run);
  auto size = std::filesystem::file_size(path);
  const size_t page = 4096;
  size_t pages = size / page;
  REQUIRE(pages > 100);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    for (size_t p = pages / 3; p < pages / 3 + 8; ++p) {
      f.seekp(std::streamoff(p * page));
      std::string junk = random_bytes(page, uint32_t(p));
      f.write(junk.data(), std::streamsize(junk.size()));
    }
  }
  std::string msg = one_line_error(path, [&] { open_read_verify(path, run); });
  CHECK((msg.find("malformed") != std::string::npos || msg.find("damaged") != std::string::npos));

  // quick_check alone finds it too.
  one_line_error(path, [&] { Store::open(path)->verify(); });
}

TEST_CASE("store errors: a truncated database", "[store][unit]") {
  int64_t run = 0;
  std::string path = make_db("store-err-truncated", &run);
  auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size / 2);
  one_line_error(path, [&] { open_read_verify(path, run); });

  std::filesystem::resize_file(path, 100);  // not even the header's first page
  one_line_error(path, [&] { Store::open(path); });
}

TEST_CASE("store errors: a damaged first page fails at open", "[store][unit]") {
  int64_t run = 0;
  std::string path = make_db("store-err-page1", &run);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);  // keep the 100-byte header, smash the schema table's b-tree page
    std::string junk = random_bytes(4096 - 100, 7);
    f.write(junk.data(), std::streamsize(junk.size()));
  }
  std::string msg = one_line_error(path, [&] { Store::open(path); });
  CHECK(msg.find("cannot open database") != std::string::npos);
}
