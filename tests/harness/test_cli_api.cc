// The API clients end to end against the real `sparkbench serve` (stories260K from ../shared):
// `run --api` gives the same per-sample results as the local `run`, and `loadgen` at three
// rates writes speed rows that `report` draws (the SVG marks are parsed) and `compare` checks.
// Fault handling (429/5xx/malformed streams) is in tests/evals/test_remote_lm.cc.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include <httplib.h>

#include "evals/http_client.h"
#include "reports/store.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// `sparkbench serve -m MODEL --port 0 ...` as a child process; its output goes to a log file,
// from which the chosen port is read. SIGTERM (then SIGKILL) on destruction.
struct ServeProcess {
  pid_t pid = -1;
  std::string log;
  std::string url;  // http://127.0.0.1:PORT/v1
  ServeProcess(const std::string& model, const std::vector<std::string>& extra) {
    log = test::temp_dir("serve") + "/serve.log";
    std::vector<std::string> args{test::sparkbench_bin(), "serve", "-m", model, "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> av;
      for (auto& a : args) av.push_back(a.data());
      av.push_back(nullptr);
      execv(av[0], av.data());
      _exit(127);
    }
    const std::regex re(R"(http://127\.0\.0\.1:([0-9]+))");
    for (int i = 0; i < 1200 && url.empty(); ++i) {
      std::smatch m;
      const std::string text = slurp(log);
      if (std::regex_search(text, m, re)) url = "http://127.0.0.1:" + m[1].str() + "/v1";
      int st = 0;
      if (url.empty() && waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        FAIL("serve exited before listening: " << text);
      }
      if (url.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE_FALSE(url.empty());
  }
  ~ServeProcess() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  std::string model_id() const {
    const auto j = ApiClient(url).get_json("/models");
    return j["data"][0]["id"].get<std::string>();
  }
};

}  // namespace

TEST_CASE("cli run --api: serve of stories260K gives the local run's per-sample results on every bundled suite", "[cli][api][shared]") {
  if (test::skip_without_shared()) return;
  const std::string model = test::shared_path("models/stories260K.gguf");
  const std::string dir = test::temp_dir("api-run");
  ServeProcess serve(model, {"--parallel", "4"});
  const std::string name = serve.model_id();
  auto local = test::run_cli({"run", "-m", model, "--suite", "all", "--limit", "16", "--db", dir + "/local.db", "--json"});
  REQUIRE(local.exit_code == 0);
  auto remote = test::run_cli({"run", "--api", serve.url, "--api-model", name, "--suite", "all", "--limit", "16", "--concurrency", "4",
                               "--db", dir + "/api.db", "--json"});
  INFO(remote.err);
  REQUIRE(remote.exit_code == 0);
  auto ls = Store::open(dir + "/local.db");
  auto rs = Store::open(dir + "/api.db");
  const auto lrun = ls->find_run("latest");
  const auto rrun = rs->find_run("latest");
  REQUIRE(lrun);
  REQUIRE(rrun);
  CHECK(rrun->info.backend == "api");
  CHECK(rrun->info.model_sha256.empty());
  CHECK(rrun->info.model_path == serve.url + "/models/" + name);
  std::map<std::string, SampleRow> by_id;
  for (auto& s : ls->samples(lrun->id)) by_id[s.task + "|" + s.sample_id] = s;
  const auto api_rows = rs->samples(rrun->id);
  REQUIRE(api_rows.size() == by_id.size());
  std::set<std::string> tasks;
  for (const auto& a : api_rows) {
    const auto it = by_id.find(a.task + "|" + a.sample_id);
    REQUIRE(it != by_id.end());
    const SampleRow& l = it->second;
    INFO(a.task << " " << a.sample_id);
    CHECK(a.output == l.output);
    CHECK(a.score == l.score);
    CHECK(a.outcome == l.outcome);
    CHECK(a.prompt_hash == l.prompt_hash);
    // Log-likelihoods (multiple choice, dialogue) agree to float rounding of the server's
    // batched forward pass.
    const auto ja = nlohmann::json::parse(a.extra_json), jl = nlohmann::json::parse(l.extra_json);
    if (jl.contains("loglikelihoods")) {
      REQUIRE(ja["loglikelihoods"].size() == jl["loglikelihoods"].size());
      for (size_t k = 0; k < jl["loglikelihoods"].size(); ++k) {
        const double x = ja["loglikelihoods"][k].get<double>(), y = jl["loglikelihoods"][k].get<double>();
        CHECK(std::fabs(x - y) <= 1e-3 * std::max(1.0, std::fabs(y)));  // NaN fails
      }
    }
    tasks.insert(a.task);
  }
  CHECK(tasks.size() >= 5);
  std::map<std::string, double> lm;
  for (const auto& m : ls->metrics(lrun->id)) lm[m.task + "|" + m.metric] = m.value;
  for (const auto& m : rs->metrics(rrun->id)) {
    INFO(m.task << " " << m.metric);
    REQUIRE(lm.count(m.task + "|" + m.metric));
    CHECK(m.value == Approx(lm[m.task + "|" + m.metric]).margin(1e-9));
  }
  // A second run answers every request from the cache (the key holds URL and model).
  auto again = test::run_cli(
      {"run", "--api", serve.url, "--api-model", name, "--suite", "qa,stories", "--limit", "4", "--db", dir + "/api.db", "--json"});
  REQUIRE(again.exit_code == 0);
  CHECK(nlohmann::json::parse(again.out)[0]["cache_hits"].get<int64_t>() > 0);
}

TEST_CASE("cli loadgen: three rates against serve give rows that report draws and compare checks", "[cli][api][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("loadgen");
  const std::string db = dir + "/lg.db";
  ServeProcess serve(test::shared_path("models/stories260K.gguf"), {"--parallel", "4"});
  std::vector<std::string> ids;
  for (int rep = 0; rep < 2; ++rep) {
    auto r = test::run_cli({"loadgen", "--url",        serve.url, "--rate", "2,5,10", "--requests",    "12",    "--input-len",
                            "16",      "--output-len", "16",      "--seed", "3",      "--slo-ttft-ms", "10000", "--slo-tpot-ms",
                            "10000",   "--db",         db,        "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    REQUIRE(j["points"].size() == 3);
    for (const auto& p : j["points"]) {
      CHECK(p["ok"] == 12);
      CHECK(p["errors"] == 0);
      CHECK(p["ttft_ms"]["p50"].get<double>() > 0);
      CHECK(p["ttft_ms"]["p50"].get<double>() <= p["ttft_ms"]["p99"].get<double>());
      CHECK(p["output_throughput"].get<double>() > 0);
      CHECK(p["goodput_fraction"].get<double>() == 1.0);
      CHECK((p["token_source"] == "usage" || p["token_source"] == "chunks"));
    }
    ids.push_back(std::to_string(j["run_id"].get<int64_t>()));
  }
  auto store = Store::open(db);
  const auto speeds = store->speeds(std::stoll(ids[1]));
  REQUIRE(speeds.size() == 3);
  // report: one mark per point, at the stored throughput and median latency.
  auto rep = test::run_cli({"report", "--db", db, "-o", dir + "/r.html"});
  REQUIRE(rep.exit_code == 0);
  const std::string html = slurp(dir + "/r.html");
  const auto at = html.find("id=\"serving-latency-throughput\"");
  REQUIRE(at != std::string::npos);
  const std::string svg = html.substr(at, html.find("</svg>", at) - at);
  const std::regex mark(R"re(class="mark" data-x="([^"]+)" data-y="([^"]+)"[^>]*data-run="([0-9]+)" data-test="([^"]+)")re");
  int found = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), mark); it != std::sregex_iterator(); ++it) {
    if ((*it)[3].str() != ids[1]) continue;
    for (const auto& s : speeds)
      if (s.test == (*it)[4].str()) {
        ++found;
        CHECK(std::stod((*it)[1].str()) == Approx(s.avg_ts).epsilon(1e-12));
        CHECK(std::stod((*it)[2].str()) == Approx(*s.p50_ms).epsilon(1e-12));
      }
  }
  CHECK(found == 3);
  // compare: one speed row per rate, every one decided or warned on (never incomparable).
  auto cmp = test::run_cli({"compare", "--db", db, "--baseline", ids[0], "--candidate", ids[1], "--json"});
  INFO(cmp.out << cmp.err);
  REQUIRE((cmp.exit_code == 0 || cmp.exit_code == 1));
  const auto cj = nlohmann::json::parse(cmp.out);
  int speed_rows = 0;
  for (const auto& row : cj["rows"])
    if (row["kind"] == "speed") {
      ++speed_rows;
      CHECK(row["status"] != "incomparable");
      CHECK(row["n_candidate"] == 12);
    }
  CHECK(speed_rows == 3);
}

TEST_CASE("cli run --api --chat: messages through /chat/completions give the local --chat outputs", "[cli][api][shared]") {
  if (test::skip_without_shared()) return;
  const std::string model = test::shared_path("models/stories260K.gguf");
  const std::string tmpl = std::string(SPARKBENCH_SOURCE_DIR) + "/tests/data/chat/inst.jinja";
  const std::string dir = test::temp_dir("api-chat");
  ServeProcess serve(model, {"--parallel", "2", "--chat-template", tmpl});
  const std::string name = serve.model_id();
  auto local = test::run_cli({"run", "-m", model, "--chat", "--chat-template", tmpl, "--system", "Be brief.", "--suite", "qa,dialogue",
                              "--limit", "6", "--db", dir + "/local.db", "--json"});
  REQUIRE(local.exit_code == 0);
  auto remote = test::run_cli({"run", "--api", serve.url, "--api-model", name, "--chat", "--system", "Be brief.", "--suite", "qa,dialogue",
                               "--limit", "6", "--db", dir + "/api.db", "--json"});
  INFO(remote.err);
  REQUIRE(remote.exit_code == 0);
  auto ls = Store::open(dir + "/local.db");
  auto rs = Store::open(dir + "/api.db");
  std::map<std::string, SampleRow> by_id;
  for (auto& s : ls->samples(ls->find_run("latest")->id)) by_id[s.task + "|" + s.sample_id] = s;
  const auto rows = rs->samples(rs->find_run("latest")->id);
  REQUIRE(rows.size() == by_id.size());
  for (const auto& a : rows) {
    INFO(a.task << " " << a.sample_id);
    REQUIRE(by_id.count(a.task + "|" + a.sample_id));
    CHECK(a.output == by_id[a.task + "|" + a.sample_id].output);
    CHECK(a.score == by_id[a.task + "|" + a.sample_id].score);
  }
  // The server has the template; a local one with --api is refused before any request.
  auto bad = test::run_cli(
      {"run", "--api", serve.url, "--api-model", name, "--chat", "--chat-template", tmpl, "--suite", "qa", "--db", dir + "/x.db"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("drop --chat-template") != std::string::npos);
}

TEST_CASE("cli run --api: a server without prompt log-probs is one error naming the suites that need them", "[cli][api]") {
  // A minimal server in this process: /v1/completions answers without logprobs.
  httplib::Server srv;
  srv.Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"choices":[{"text":"x","index":0,"logprobs":null,"finish_reason":"length"}]})", "application/json");
  });
  const int port = srv.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread th([&] { srv.listen_after_bind(); });
  while (!srv.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string dir = test::temp_dir("api-nolp");
  auto r = test::run_cli({"run", "--api", "http://127.0.0.1:" + std::to_string(port) + "/v1", "--api-model", "m", "--suite",
                          "stories,qa,sentiment", "--db", dir + "/a.db"});
  srv.stop();
  th.join();
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no prompt log-probs") != std::string::npos);
  CHECK(r.err.find("stories, sentiment") != std::string::npos);
  CHECK(r.err.find("--suite qa") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line
}
