// `sparkbench compare` and `sparkbench history` end to end: real runs of stories260K (and of a
// damaged copy written with the GGUF writer) compared through the CLI, JUnit/Markdown files
// checked (XML parsed by python3's xml.etree when python3 exists), speed rows stored through
// the Store API in a real file, and every kind of bad input exiting 2 with one line.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/gguf/gguf.h"
#include "harness/runner.h"
#include "reports/store.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool has_python3() { return test::run_process({"python3", "-c", "print(1)"}).exit_code == 0; }

// Parses an XML file with python3 and prints "testcases failures skipped".
std::string junit_summary(const std::string& path) {
  auto r = test::run_process({"python3", "-c",
                              "import sys, xml.etree.ElementTree as E\n"
                              "t = E.parse(sys.argv[1]).getroot()\n"
                              "cs = t.findall('.//testcase')\n"
                              "print(len(cs), sum(1 for c in cs if c.find('failure') is not None),"
                              " sum(1 for c in cs if c.find('skipped') is not None), t.tag)\n",
                              path});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// A real GGUF copy of `src` with heavy seeded noise added to the output projection (or the tied
// embedding) and every FFN down projection: a clearly worse model of the same shape and vocab.
void write_damaged_model(const std::string& src, const std::string& dst) {
  auto f = GgufFile::open(src);
  GgufWriter w;
  w.copy_metadata(*f);
  std::mt19937 rng(1234);
  std::vector<std::vector<float>> keep;  // owned data for the damaged tensors
  const bool has_output = f->tensor("output.weight") != nullptr;
  int damaged = 0;
  for (const auto& t : f->tensors()) {
    const bool hit =
        t.name.find("ffn_down") != std::string::npos || t.name == "output.weight" || (!has_output && t.name == "token_embd.weight");
    if (!hit) {
      w.add_tensor_ref(t.name, t.type, t.ne, f->tensor_data(t), size_t(t.nbytes));
      continue;
    }
    std::vector<float> x = f->tensor_f32(t);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double sd = std::sqrt(ss / double(std::max<size_t>(1, x.size())));
    std::normal_distribution<float> nd(0.0f, float(4 * sd));
    for (auto& v : x) v += nd(rng);
    keep.push_back(std::move(x));
    w.add_tensor_ref(t.name, GgmlType::F32, t.ne, keep.back().data(), keep.back().size() * sizeof(float));
    ++damaged;
  }
  REQUIRE(damaged >= 2);
  w.write(dst);
}

test::RunResult run_stories(const std::string& model, const std::string& db, const std::string& label) {
  // One thread: the tiny model gains nothing from more, and OpenMP teams slow down on a busy machine.
  return test::run_cli({"run", "-m", model, "--suite", "stories", "--limit", "60", "--threads", "1", "--db", db, "--label", label});
}

bool one_error_line(const std::string& err, const std::string& needle) {
  return err.rfind("error: ", 0) == 0 && err.find('\n') == err.size() - 1 && err.find(needle) != std::string::npos;
}

void add_bench_run(Store& st, const std::string& label, const std::vector<double>& ts) {
  RunInfo info;
  info.kind = "bench";
  info.label = label;
  const int64_t id = st.begin_run(info);
  SpeedRow s;
  s.test = "tg32";
  s.n_gen = 32;
  s.repetitions = int64_t(ts.size());
  s.samples_ts = ts;
  for (double x : ts) s.avg_ts += x / double(ts.size());
  st.add_speed(id, s);
  st.finish_run(id, "complete");
}

}  // namespace

TEST_CASE("cli compare: reruns compare clean and a damaged model is flagged with JUnit and Markdown", "[cli][compare][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("compare");
  const std::string db = dir + "/c.db", model = test::shared_path("models/stories260K.gguf"), bad = dir + "/damaged.gguf";
  write_damaged_model(model, bad);
  for (const auto& [m, label] : std::vector<std::pair<std::string, std::string>>{{model, "base"}, {model, "rerun"}, {bad, "broken"}}) {
    auto r = run_stories(m, db, label);
    INFO(label << ": " << r.err);
    REQUIRE(r.exit_code == 0);
  }

  // Two reruns of the same model: exit 0, every row ok.
  auto clean = test::run_cli({"compare", "--db", db, "--baseline", "base", "--candidate", "rerun", "--junit", dir + "/clean.xml",
                              "--markdown", dir + "/clean.md"});
  INFO(clean.out << clean.err);
  CHECK(clean.exit_code == 0);
  CHECK(clean.out.find("no regression") != std::string::npos);
  CHECK(clean.out.find("stories") != std::string::npos);
  CHECK(slurp(dir + "/clean.md").find(":white_check_mark:") != std::string::npos);

  // The damaged model: exit 1 with the regression in every format.
  const std::string junit = dir + "/out.xml", md = dir + "/out.md";
  auto worse = test::run_cli({"compare", "--db", db, "--baseline", "base", "--candidate", "broken", "--junit", junit, "--markdown", md});
  INFO(worse.out << worse.err);
  CHECK(worse.exit_code == 1);
  CHECK(worse.out.find("REGRESSION") != std::string::npos);
  const std::string xml = slurp(junit), mdtext = slurp(md);
  CHECK(xml.find("<testsuites name=\"sparkbench compare\"") != std::string::npos);
  CHECK(xml.find("classname=\"sparkbench.compare.accuracy.stories\" name=\"acc\"") != std::string::npos);
  CHECK(xml.find("<failure message=\"regression: ") != std::string::npos);
  CHECK(mdtext.find("| | kind | task | metric |") != std::string::npos);
  CHECK(mdtext.find(":x: regression | accuracy | stories | acc |") != std::string::npos);
  // One JUnit case per metric the two runs share: stories' acc, acc_norm, invalid and the
  // per-group rows of the groups the 60 items reach (acc[easy], acc_norm[easy], ...).
  size_t n_metrics = 0;
  {
    auto st = Store::open(db);
    const auto base = st->find_run("base");
    REQUIRE(base);
    n_metrics = st->metrics(base->id).size();
  }
  REQUIRE(n_metrics >= 3);
  if (has_python3()) {
    std::istringstream sum(junit_summary(junit));
    int cases = 0, failures = 0, skipped = 0;
    std::string root;
    sum >> cases >> failures >> skipped >> root;
    CHECK(root == "testsuites");
    CHECK(size_t(cases) == n_metrics);
    CHECK(failures >= 1);
    CHECK(skipped == 0);
    std::istringstream clean_sum(junit_summary(dir + "/clean.xml"));
    clean_sum >> cases >> failures;
    CHECK(size_t(cases) == n_metrics);
    CHECK(failures == 0);
  } else {
    WARN("python3 not found: JUnit XML not parsed");
  }

  // JSON: the McNemar row of acc, paired on all 60 items.
  auto js = test::run_cli({"compare", "--db", db, "--baseline", "base", "--candidate", "latest", "--json"});
  REQUIRE(js.exit_code == 1);
  auto j = nlohmann::json::parse(js.out);
  CHECK(j["exit_code"] == 1);
  CHECK(j["candidate"]["label"] == "broken");
  bool found = false;
  for (const auto& row : j["rows"]) {
    if (row["metric"] != "acc") continue;
    found = true;
    CHECK(row["status"] == "regression");
    CHECK(row["test"] == "mcnemar-exact");
    CHECK(row["n_paired"] == 60);
    CHECK(row["delta"].get<double>() < -0.1);
    CHECK(row["p"].get<double>() < 0.05);
  }
  CHECK(found);

  // History of acc over the three runs: the damaged run is a step down.
  auto h = test::run_cli({"history", "--db", db, "--metric", "acc", "--task", "stories", "--json"});
  INFO(h.err);
  REQUIRE(h.exit_code == 0);
  auto hj = nlohmann::json::parse(h.out);
  REQUIRE(hj["series"].size() == 1);
  CHECK(hj["series"][0]["points"].size() == 3);
  REQUIRE(hj["series"][0]["steps"].size() == 1);
  CHECK(hj["series"][0]["steps"][0]["index"] == 2);
  CHECK(hj["series"][0]["steps"][0]["regression"] == true);
  auto ht = test::run_cli({"history", "--db", db, "--metric", "acc"});
  CHECK(ht.exit_code == 0);
  CHECK(ht.out.find("<- step") != std::string::npos);
}

TEST_CASE("cli compare: a 30 percent slowdown over 5 repetitions is flagged and 2 repetitions warn", "[cli][compare]") {
  const std::string dir = test::temp_dir("compare-speed");
  const std::string db = dir + "/s.db";
  {
    auto st = Store::open(db);
    add_bench_run(*st, "fast5", {200, 202, 198, 201, 199});
    add_bench_run(*st, "slow5", {140, 141, 139, 140.5, 139.5});
    add_bench_run(*st, "fast2", {200, 202});
    add_bench_run(*st, "slow2", {140, 141});
  }
  auto r = test::run_cli({"compare", "--db", db, "--baseline", "fast5", "--candidate", "slow5", "--junit", dir + "/s.xml"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("regression  speed") != std::string::npos);
  CHECK(r.out.find("mann-whitney-exact") != std::string::npos);
  CHECK(slurp(dir + "/s.xml").find("classname=\"sparkbench.compare.speed.tg32\" name=\"t/s\"") != std::string::npos);
  auto w = test::run_cli({"compare", "--db", db, "--baseline", "fast2", "--candidate", "slow2", "--json"});
  INFO(w.out << w.err);
  CHECK(w.exit_code == 0);
  auto j = nlohmann::json::parse(w.out);
  REQUIRE(j["rows"].size() == 1);
  CHECK(j["rows"][0]["status"] == "warn");
  CHECK(j["rows"][0]["note"].get<std::string>().find("too few repetitions") != std::string::npos);
  // A looser threshold turns the 5-repetition slowdown into ok.
  auto loose = test::run_cli({"compare", "--db", db, "--baseline", "fast5", "--candidate", "slow5", "--max-speed-drop", "0.5"});
  CHECK(loose.exit_code == 0);
  // Eval-less bench runs have no task in common with an empty run: incomparable, exit 2.
  {
    auto st = Store::open(db);
    RunInfo info;
    info.label = "empty";
    st->finish_run(st->begin_run(info), "complete");
  }
  auto inc = test::run_cli({"compare", "--db", db, "--baseline", "fast5", "--candidate", "empty", "--markdown", dir + "/inc.md"});
  CHECK(inc.exit_code == 2);
  CHECK(one_error_line(inc.err, "cannot be compared"));
  CHECK(slurp(dir + "/inc.md").find("INCOMPARABLE") != std::string::npos);
  // History of a bench test: tokens/s per run.
  auto h = test::run_cli({"history", "--db", db, "--metric", "tg32", "--json"});
  INFO(h.err);
  REQUIRE(h.exit_code == 0);
  CHECK(nlohmann::json::parse(h.out)["series"][0]["points"].size() == 4);
}

TEST_CASE("cli compare: bad databases options and runs exit 2 with one line", "[cli][compare]") {
  const std::string dir = test::temp_dir("compare-bad");
  // Corrupt: not a database at all.
  const std::string garbage = dir + "/garbage.db";
  {
    std::ofstream f(garbage, std::ios::binary);
    f << std::string(8192, 'x');
  }
  for (const std::string cmd : {"compare", "history"}) {
    std::vector<std::string> args{cmd, "--db", garbage};
    if (cmd == "compare")
      args.insert(args.end(), {"--baseline", "1", "--candidate", "2"});
    else
      args.insert(args.end(), {"--metric", "acc"});
    auto r = test::run_cli(args);
    INFO(cmd << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(one_error_line(r.err, garbage + ": cannot open database: file is not a database"));
    // A missing file is not created.
    args[2] = dir + "/missing.db";
    r = test::run_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(one_error_line(r.err, dir + "/missing.db: cannot open database"));
    CHECK(std::ifstream(dir + "/missing.db").fail());
    // A directory, and a path under a file (cannot exist or be created).
    args[2] = dir;
    r = test::run_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(one_error_line(r.err, "is a directory"));
    args[2] = garbage + "/sub.db";
    r = test::run_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(one_error_line(r.err, garbage + "/sub.db: cannot open database"));
    args[2] = "/proc/self/none.db";  // unwritable even for root
    r = test::run_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(one_error_line(r.err, "/proc/self/none.db: cannot open database"));
  }
  // Corrupt inside: a real database whose sample pages are overwritten.
  const std::string damaged = dir + "/damaged.db";
  {
    auto st = Store::open(damaged);
    for (int k = 0; k < 2; ++k) {
      const int64_t id = st->begin_run(RunInfo{});
      std::vector<SampleRow> rows;
      for (int i = 0; i < 400; ++i) {
        SampleRow s;
        s.task = "t";
        s.sample_id = std::to_string(i);
        s.output = std::string(300, 'o');
        s.score = i % 2;
        rows.push_back(s);
      }
      st->add_samples(id, rows);
      st->add_metric(id, cli::metric_row("t", "acc", 0.5, 0.02, std::nullopt, std::nullopt, 400));
      st->finish_run(id, "complete");
    }
  }
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const long size = long(f.tellg());
    REQUIRE(size > 100000);
    std::mt19937 rng(9);
    std::string junk(size_t(size - 40960), '\0');
    for (auto& c : junk) c = char(rng());
    f.seekp(32768);
    f.write(junk.data(), long(junk.size()));
  }
  auto rc = test::run_cli({"compare", "--db", damaged, "--baseline", "1", "--candidate", "2"});
  INFO(rc.out << rc.err);
  CHECK(rc.exit_code == 2);
  CHECK(one_error_line(rc.err, damaged + ": "));
  // Unknown runs and bad options.
  const std::string db = dir + "/ok.db";
  {
    auto st = Store::open(db);
    st->finish_run(st->begin_run(RunInfo{}), "complete");
  }
  auto unknown = test::run_cli({"compare", "--db", db, "--baseline", "nosuchlabel"});
  CHECK(unknown.exit_code == 2);
  CHECK(one_error_line(unknown.err, db + ": no run 'nosuchlabel'"));
  auto alpha = test::run_cli({"compare", "--db", db, "--baseline", "1", "--alpha", "2"});
  CHECK(alpha.exit_code == 2);
  auto missing_opt = test::run_cli({"compare", "--db", db});
  CHECK(missing_opt.exit_code == 2);
  CHECK(missing_opt.err.find("--baseline") != std::string::npos);
  auto no_metric = test::run_cli({"history", "--db", db});
  CHECK(no_metric.exit_code == 2);
  auto unknown_metric = test::run_cli({"history", "--db", db, "--metric", "acc"});
  CHECK(unknown_metric.exit_code == 2);
  CHECK(one_error_line(unknown_metric.err, db + ": no metric or bench test 'acc'"));
  // An output file that cannot be written.
  auto junit = test::run_cli({"compare", "--db", db, "--baseline", "1", "--candidate", "1", "--junit", garbage + "/x.xml"});
  CHECK(junit.exit_code == 2);
  CHECK(one_error_line(junit.err, garbage + "/x.xml"));
  // --help is not an error.
  auto help = test::run_cli({"compare", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--max-accuracy-drop") != std::string::npos);
  CHECK(help.out.find("Exit status: 0 no regression, 1 regression, 2 error") != std::string::npos);
}
