// SQLite implementation of sb::Store (reports/store.h). Schema: reports/store_schema.cc and
// docs/SCHEMA.md; connection handling: reports/sqlite_util.h; process identity for
// interrupted-run detection: reports/store_proc.h.
#include "reports/store.h"

#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "reports/sqlite_util.h"
#include "reports/store_proc.h"
#include "reports/store_schema.h"

namespace sb {

namespace {

using sqlite::Db;
using sqlite::Stmt;

constexpr int kBusyTimeoutMs = 10000;

constexpr const char* kRunColumns =
    "id, label, group_id, kind, git_commit, git_dirty, tool_version, host, cpu, gpu, backend, "
    "threads, model_path, model_sha256, model_arch, synthetic_weights, variant, seed, "
    "config_json, status, started_at, finished_at, uuid";

RunRecord read_run(const Stmt& s) {
  RunRecord r;
  int c = 0;
  r.id = s.i64(c++);
  r.info.label = s.str(c++);
  r.info.group_id = s.str(c++);
  r.info.kind = s.str(c++);
  r.info.git_commit = s.str(c++);
  r.info.git_dirty = s.i64(c++) != 0;
  r.info.tool_version = s.str(c++);
  r.info.host = s.str(c++);
  r.info.cpu = s.str(c++);
  r.info.gpu = s.str(c++);
  r.info.backend = s.str(c++);
  r.info.threads = int(s.i64(c++));
  r.info.model_path = s.str(c++);
  r.info.model_sha256 = s.str(c++);
  r.info.model_arch = s.str(c++);
  r.info.synthetic_weights = s.i64(c++) != 0;
  r.info.variant = s.str(c++);
  r.info.seed = uint64_t(s.i64(c++));  // stored as the int64 with the same bits
  r.info.config_json = s.str(c++);
  r.status = s.str(c++);
  r.started_at = s.str(c++);
  r.finished_at = s.str(c++);
  r.uuid = s.str(c++);
  return r;
}

std::string doubles_to_json(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) {
    if (std::isfinite(x)) a.push_back(x);
    else a.push_back(nullptr);  // JSON has no NaN/Inf
  }
  return a.dump();
}

std::vector<double> doubles_from_json(const std::string& text, const std::string& where) {
  nlohmann::json a = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!a.is_array()) fail(where, " is not a JSON array");
  std::vector<double> v;
  for (const auto& x : a) {
    if (x.is_number()) v.push_back(x.get<double>());
    else if (x.is_null()) v.push_back(std::numeric_limits<double>::quiet_NaN());
    else fail(where, " holds a non-number");
  }
  return v;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) : db_(path, kBusyTimeoutMs), self_(proc::self()) {
    configure();
    store_schema::ensure(db_);
    mark_interrupted();
  }

  int schema_version() const override { return store_schema::kCurrentVersion; }

  int64_t begin_run(const RunInfo& i) override {
    int64_t id = 0;
    db_.write("starting a run", [&] {
      Stmt s = db_.prepare(
          "INSERT INTO runs (label, group_id, kind, git_commit, git_dirty, tool_version, host, "
          "cpu, gpu, backend, threads, model_path, model_sha256, model_arch, synthetic_weights, "
          "variant, seed, config_json, status, started_at, proc_host, proc_pid, proc_start, "
          "proc_boot_id, proc_pidns, uuid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
          "?12, ?13, ?14, ?15, ?16, ?17, ?18, 'running', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), "
          "?19, ?20, ?21, ?22, ?23, lower(hex(randomblob(16))))",
          "starting a run");
      s.bind(1, i.label).bind(2, i.group_id).bind(3, i.kind).bind(4, i.git_commit);
      s.bind(5, i.git_dirty).bind(6, i.tool_version).bind(7, i.host).bind(8, i.cpu);
      s.bind(9, i.gpu).bind(10, i.backend).bind(11, i.threads).bind(12, i.model_path);
      s.bind(13, i.model_sha256).bind(14, i.model_arch).bind(15, i.synthetic_weights);
      s.bind(16, i.variant).bind(17, int64_t(i.seed)).bind(18, i.config_json);
      bind_self(s, 19);
      s.run();
      id = db_.last_insert_rowid();
    }, /*durable=*/true);
    return id;
  }

  void finish_run(int64_t run, const std::string& status) override {
    if (status != "complete" && status != "failed" && status != "interrupted")
      fail(db_.path(), ": finishing run ", run, ": invalid status \"", status,
           "\" (expected complete, failed or interrupted)");
    db_.write("finishing a run", [&] {
      db_.prepare("UPDATE runs SET status = ?2, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
                  "'now') WHERE id = ?1",
                  "finishing a run")
          .bind(1, run)
          .bind(2, status)
          .run();
      if (db_.changes() == 0) fail(db_.path(), ": finishing run ", run, ": no such run");
    }, /*durable=*/true);
  }

  int mark_interrupted() override {
    struct Candidate {
      int64_t id;
      proc::Identity who;
    };
    std::vector<Candidate> dead;
    {
      Stmt s = db_.prepare(
          "SELECT id, proc_host, proc_boot_id, proc_pidns, proc_pid, proc_start FROM runs "
          "WHERE status = 'running'",
          "looking for interrupted runs");
      while (s.step()) {
        Candidate c{s.i64(0), {s.str(1), s.str(2), s.str(3), s.i64(4), s.i64(5)}};
        if (proc::check(c.who, self_) == proc::Liveness::dead) dead.push_back(c);
      }
    }
    if (dead.empty()) return 0;
    int marked = 0;
    db_.write("marking interrupted runs", [&] {
      marked = 0;
      for (const auto& c : dead) {
        // Only if still the same process's run (another process may have resumed it since).
        db_.prepare("UPDATE runs SET status = 'interrupted' WHERE id = ?1 AND status = 'running' "
                    "AND proc_host = ?2 AND proc_boot_id = ?3 AND proc_pidns = ?4 "
                    "AND proc_pid = ?5 AND proc_start = ?6",
                    "marking interrupted runs")
            .bind(1, c.id)
            .bind(2, c.who.host)
            .bind(3, c.who.boot_id)
            .bind(4, c.who.pid_ns)
            .bind(5, c.who.pid)
            .bind(6, c.who.start)
            .run();
        marked += int(db_.changes());
      }
    }, /*durable=*/true);
    return marked;
  }

  std::optional<RunRecord> get_run(int64_t id) override {
    Stmt s = db_.prepare(run_query("WHERE id = ?1").c_str(), "reading a run");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_run(s);
  }

  std::optional<RunRecord> find_run(const std::string& ref) override {
    if (ref.empty()) return std::nullopt;
    if (ref.size() <= 18 && ref.find_first_not_of("0123456789") == std::string::npos) {
      if (auto r = get_run(std::stoll(ref))) return r;
    }
    {
      Stmt s = db_.prepare(run_query("WHERE label = ?1 ORDER BY id DESC LIMIT 1").c_str(),
                           "finding a run");
      s.bind(1, ref);
      if (s.step()) return read_run(s);
    }
    if (ref == "latest") {
      Stmt s = db_.prepare(run_query("ORDER BY id DESC LIMIT 1").c_str(), "finding a run");
      if (s.step()) return read_run(s);
    }
    return std::nullopt;
  }

  std::vector<RunRecord> list_runs(int limit) override {
    Stmt s = db_.prepare(run_query("ORDER BY id DESC LIMIT ?1").c_str(), "listing runs");
    s.bind(1, int64_t(limit < 0 ? -1 : limit));
    std::vector<RunRecord> out;
    while (s.step()) out.push_back(read_run(s));
    return out;
  }

  void resume_run(int64_t run) override {
    db_.write("resuming a run", [&] {
      Stmt s = db_.prepare(
          "SELECT status, proc_host, proc_boot_id, proc_pidns, proc_pid, proc_start FROM runs "
          "WHERE id = ?1",
          "resuming a run");
      s.bind(1, run);
      if (!s.step()) fail(db_.path(), ": resuming run ", run, ": no such run");
      std::string status = s.str(0);
      proc::Identity who{s.str(1), s.str(2), s.str(3), s.i64(4), s.i64(5)};
      if (status == "complete")
        fail(db_.path(), ": resuming run ", run, ": the run is complete; nothing to resume");
      bool mine = who.host == self_.host && who.pid == self_.pid && who.start == self_.start &&
                  who.boot_id == self_.boot_id && who.pid_ns == self_.pid_ns;
      if (status == "running" && !mine) {
        switch (proc::check(who, self_)) {
          case proc::Liveness::alive:
            fail(db_.path(), ": resuming run ", run, ": it is still running (pid ", who.pid, ")");
          case proc::Liveness::unknown:
            fail(db_.path(), ": resuming run ", run, ": it is marked running by pid ", who.pid,
                 " on host ", who.host, " (another host or container), which cannot be checked "
                 "from here");
          case proc::Liveness::dead:
            break;
        }
      }
      Stmt u = db_.prepare(
          "UPDATE runs SET status = 'running', finished_at = NULL, proc_host = ?2, "
          "proc_pid = ?3, proc_start = ?4, proc_boot_id = ?5, proc_pidns = ?6 WHERE id = ?1",
          "resuming a run");
      u.bind(1, run);
      bind_self(u, 2);
      u.run();
    }, /*durable=*/true);
  }

  void add_sample(int64_t run, const SampleRow& s) override {
    db_.write("adding a sample", [&] {
      require_run(run, "adding a sample");
      insert_sample(run, s);
    });
  }

  void add_samples(int64_t run, const std::vector<SampleRow>& rows) override {
    if (rows.empty()) return;
    db_.write("adding samples", [&] {
      require_run(run, "adding samples");
      for (const auto& s : rows) insert_sample(run, s);
    });
  }

  std::vector<SampleRow> samples(int64_t run, const std::string& task) override {
    constexpr const char* cols =
        "SELECT task, sample_id, prompt_hash, output, score, outcome, ttft_ms, tpot_ms, "
        "latency_ms, n_prompt_tokens, n_gen_tokens, extra_json, prompt FROM samples ";
    std::string sql = std::string(cols) +
                      (task.empty() ? "WHERE run_id = ?1 ORDER BY id"
                                    : "WHERE run_id = ?1 AND task = ?2 ORDER BY id");
    Stmt s = db_.prepare(sql.c_str(), "reading samples");
    s.bind(1, run);
    if (!task.empty()) s.bind(2, task);
    std::vector<SampleRow> out;
    while (s.step()) {
      SampleRow r;
      r.task = s.str(0);
      r.sample_id = s.str(1);
      r.prompt_hash = s.str(2);
      r.output = s.str(3);
      r.score = s.f64(4);
      r.outcome = s.str(5);
      r.ttft_ms = s.opt_f64(6);
      r.tpot_ms = s.opt_f64(7);
      r.latency_ms = s.opt_f64(8);
      r.n_prompt_tokens = s.i64(9);
      r.n_gen_tokens = s.i64(10);
      r.extra_json = s.str(11);
      r.prompt = s.str(12);
      out.push_back(std::move(r));
    }
    return out;
  }

  std::set<std::string> sample_ids(int64_t run, const std::string& task) override {
    Stmt s = db_.prepare("SELECT sample_id FROM samples WHERE run_id = ?1 AND task = ?2",
                         "reading sample ids");
    s.bind(1, run).bind(2, task);
    std::set<std::string> out;
    while (s.step()) out.insert(s.str(0));
    return out;
  }

  void add_metric(int64_t run, const MetricRow& m) override {
    db_.write("adding a metric", [&] {
      require_run(run, "adding a metric");
      db_.prepare(
             "INSERT INTO metrics (run_id, task, metric, value, stderr, ci_low, ci_high, n, "
             "direction, unit, is_primary) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
             "ON CONFLICT (run_id, task, metric) DO UPDATE SET value = excluded.value, stderr = "
             "excluded.stderr, ci_low = excluded.ci_low, ci_high = excluded.ci_high, n = "
             "excluded.n, direction = excluded.direction, unit = excluded.unit, is_primary = "
             "excluded.is_primary",
             "adding a metric")
          .bind(1, run)
          .bind(2, m.task)
          .bind(3, m.metric)
          .bind(4, m.value)
          .bind(5, m.stderr_)
          .bind(6, m.ci_low)
          .bind(7, m.ci_high)
          .bind(8, m.n)
          .bind(9, std::string(direction_name(m.direction)))
          .bind(10, m.unit)
          .bind(11, int64_t(m.primary))
          .run();
    });
  }

  std::vector<MetricRow> metrics(int64_t run) override {
    Stmt s = db_.prepare(
        "SELECT task, metric, value, stderr, ci_low, ci_high, n, direction, unit, is_primary "
        "FROM metrics WHERE run_id = ?1 "
        "ORDER BY id",
        "reading metrics");
    s.bind(1, run);
    std::vector<MetricRow> out;
    while (s.step()) {
      MetricRow m;
      m.task = s.str(0);
      m.metric = s.str(1);
      m.value = s.f64(2);
      m.stderr_ = s.opt_f64(3);
      m.ci_low = s.opt_f64(4);
      m.ci_high = s.opt_f64(5);
      m.n = s.i64(6);
      m.direction = parse_direction(s.str(7));
      m.unit = s.str(8);
      m.primary = s.i64(9) != 0;
      out.push_back(std::move(m));
    }
    return out;
  }

  int64_t add_rank(int64_t run, const RankRow& r) override {
    int64_t id = 0;
    db_.write("adding a rank", [&] {
      require_run(run, "adding a rank");
      db_.prepare("INSERT INTO run_ranks (run_id, rank, n_ranks, local_rank, host, device, threads, "
                  "pid, items, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                  "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                  "adding a rank")
          .bind(1, run).bind(2, r.rank).bind(3, r.n_ranks).bind(4, r.local_rank).bind(5, r.host)
          .bind(6, r.device).bind(7, r.threads).bind(8, r.pid).bind(9, r.items)
          .run();
      id = db_.last_insert_rowid();
    });
    return id;
  }

  void set_rank_items(int64_t rank_row, int64_t items) override {
    db_.write("counting a rank's items", [&] {
      db_.prepare("UPDATE run_ranks SET items = ?2 WHERE id = ?1", "counting a rank's items")
          .bind(1, rank_row).bind(2, items).run();
    });
  }

  std::vector<RankRow> ranks(int64_t run) override {
    Stmt s = db_.prepare("SELECT rank, n_ranks, local_rank, host, device, threads, pid, items, "
                         "started_at FROM run_ranks WHERE run_id = ?1 ORDER BY id",
                         "reading ranks");
    s.bind(1, run);
    std::vector<RankRow> out;
    while (s.step()) {
      RankRow r;
      r.rank = int(s.i64(0));
      r.n_ranks = int(s.i64(1));
      r.local_rank = int(s.i64(2));
      r.host = s.str(3);
      r.device = s.str(4);
      r.threads = int(s.i64(5));
      r.pid = s.i64(6);
      r.items = s.i64(7);
      r.started_at = s.str(8);
      out.push_back(std::move(r));
    }
    return out;
  }

  void add_speed(int64_t run, const SpeedRow& r) override {
    std::string ts = doubles_to_json(r.samples_ts), ns = doubles_to_json(r.samples_ns);
    db_.write("adding a speed row", [&] {
      require_run(run, "adding a speed row");
      Stmt s = db_.prepare(
          "INSERT INTO speed (run_id, test, n_prompt, n_gen, n_depth, repetitions, avg_ts, "
          "stddev_ts, samples_ts, samples_ns, ttft_ms, tpot_ms, p50_ms, p90_ms, p99_ms, "
          "peak_rss_bytes, load_ms, extra_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
          "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
          "adding a speed row");
      s.bind(1, run).bind(2, r.test).bind(3, r.n_prompt).bind(4, r.n_gen).bind(5, r.n_depth);
      s.bind(6, r.repetitions).bind(7, r.avg_ts).bind(8, r.stddev_ts).bind(9, ts).bind(10, ns);
      s.bind(11, r.ttft_ms).bind(12, r.tpot_ms).bind(13, r.p50_ms).bind(14, r.p90_ms);
      s.bind(15, r.p99_ms).bind(16, r.peak_rss_bytes).bind(17, r.load_ms);
      s.bind_text_or_null(18, r.extra_json);
      s.run();
    });
  }

  std::vector<SpeedRow> speeds(int64_t run) override {
    Stmt s = db_.prepare(
        "SELECT id, test, n_prompt, n_gen, n_depth, repetitions, avg_ts, stddev_ts, samples_ts, "
        "samples_ns, ttft_ms, tpot_ms, p50_ms, p90_ms, p99_ms, peak_rss_bytes, load_ms, "
        "extra_json FROM speed WHERE run_id = ?1 ORDER BY id",
        "reading speed rows");
    s.bind(1, run);
    std::vector<SpeedRow> out;
    while (s.step()) {
      SpeedRow r;
      std::string where = cat(db_.path(), ": speed row ", s.i64(0), ": ");
      r.test = s.str(1);
      r.n_prompt = s.i64(2);
      r.n_gen = s.i64(3);
      r.n_depth = s.i64(4);
      r.repetitions = s.i64(5);
      r.avg_ts = s.f64(6);
      r.stddev_ts = s.f64(7);
      r.samples_ts = doubles_from_json(s.str(8), where + "samples_ts");
      r.samples_ns = doubles_from_json(s.str(9), where + "samples_ns");
      r.ttft_ms = s.opt_f64(10);
      r.tpot_ms = s.opt_f64(11);
      r.p50_ms = s.opt_f64(12);
      r.p90_ms = s.opt_f64(13);
      r.p99_ms = s.opt_f64(14);
      r.peak_rss_bytes = s.opt_i64(15);
      r.load_ms = s.opt_f64(16);
      r.extra_json = s.str(17);
      out.push_back(std::move(r));
    }
    return out;
  }

  void add_kernels(int64_t run, const std::vector<KernelRow>& rows) override {
    if (rows.empty()) return;
    db_.write("adding kernel rows", [&] {
      require_run(run, "adding kernel rows");
      for (const auto& k : rows) {
        db_.prepare("INSERT INTO kernels (run_id, name, run_type, aggregate, iterations, "
                    "real_time_ns, cpu_time_ns, counters_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                    "?7, ?8)",
                    "adding kernel rows")
            .bind(1, run)
            .bind(2, k.name)
            .bind(3, k.run_type)
            .bind(4, k.aggregate)
            .bind(5, k.iterations)
            .bind(6, k.real_time_ns)
            .bind(7, k.cpu_time_ns)
            .bind_text_or_null(8, k.counters_json)
            .run();
      }
    });
  }

  std::vector<KernelRow> kernels(int64_t run) override {
    Stmt s = db_.prepare(
        "SELECT name, run_type, aggregate, iterations, real_time_ns, cpu_time_ns, counters_json "
        "FROM kernels WHERE run_id = ?1 ORDER BY id",
        "reading kernel rows");
    s.bind(1, run);
    std::vector<KernelRow> out;
    while (s.step()) {
      KernelRow k;
      k.name = s.str(0);
      k.run_type = s.str(1);
      k.aggregate = s.str(2);
      k.iterations = s.i64(3);
      k.real_time_ns = s.f64(4);
      k.cpu_time_ns = s.f64(5);
      k.counters_json = s.str(6);
      out.push_back(std::move(k));
    }
    return out;
  }

  void add_train_steps(int64_t run, const std::vector<TrainStepRow>& rows) override {
    if (rows.empty()) return;
    db_.write("adding training steps", [&] {
      require_run(run, "adding training steps");
      for (const auto& t : rows) {
        db_.prepare("INSERT INTO train_steps (run_id, step, loss, lr, kld) VALUES (?1, ?2, ?3, ?4, ?5) "
                    "ON CONFLICT (run_id, step) DO UPDATE SET loss = excluded.loss, lr = excluded.lr, "
                    "kld = coalesce(excluded.kld, kld)",
                    "adding training steps")
            .bind(1, run)
            .bind(2, t.step)
            .bind(3, t.loss)
            .bind(4, t.lr)
            .bind(5, t.kld)
            .run();
      }
    });
  }

  std::vector<TrainStepRow> train_steps(int64_t run) override {
    Stmt s = db_.prepare("SELECT step, loss, lr, kld FROM train_steps WHERE run_id = ?1 ORDER BY step",
                         "reading training steps");
    s.bind(1, run);
    std::vector<TrainStepRow> out;
    while (s.step()) {
      TrainStepRow t;
      t.step = s.i64(0);
      t.loss = s.f64(1);
      t.lr = s.f64(2);
      t.kld = s.opt_f64(3);
      out.push_back(t);
    }
    return out;
  }

  // --- Read queries for `sparkbench report` ---
  std::vector<TaskTiming> sample_timings(int64_t run) override {
    Stmt s = db_.prepare(
        "SELECT task, count(*), avg(tpot_ms), avg(tpot_ms * tpot_ms), count(ttft_ms), avg(ttft_ms) "
        "FROM samples WHERE run_id = ?1 AND tpot_ms IS NOT NULL AND n_gen_tokens >= 2 "
        "GROUP BY task ORDER BY task",
        "reading sample timings");
    s.bind(1, run);
    std::vector<TaskTiming> out;
    while (s.step()) {
      TaskTiming t;
      t.task = s.str(0);
      t.n = s.i64(1);
      t.tpot_mean_ms = s.f64(2);
      const double var = s.f64(3) - t.tpot_mean_ms * t.tpot_mean_ms;
      t.tpot_sd_ms = t.n > 1 ? std::sqrt((var > 0 ? var : 0.0) * double(t.n) / double(t.n - 1)) : 0.0;
      t.n_ttft = s.i64(4);
      t.ttft_mean_ms = t.n_ttft ? s.f64(5) : 0.0;
      out.push_back(std::move(t));
    }
    return out;
  }
  // --- end of report queries ---

  std::optional<std::string> cache_get(const std::string& key) override {
    Stmt s = db_.prepare("SELECT value FROM request_cache WHERE key = ?1", "reading the cache");
    s.bind(1, key);
    if (!s.step()) return std::nullopt;
    return s.str(0);
  }

  void cache_put(const std::string& key, const std::string& value) override {
    db_.write("writing the cache", [&] {
      db_.prepare("INSERT INTO request_cache (key, value, created_at) VALUES (?1, ?2, "
                  "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) ON CONFLICT (key) DO UPDATE SET "
                  "value = excluded.value, created_at = excluded.created_at",
                  "writing the cache")
          .bind(1, key)
          .bind(2, value)
          .run();
    });
  }

  void verify(bool full) override {
    const std::string what = full ? "checking integrity" : "checking integrity (quick)";
    std::vector<std::string> problems;
    {
      Stmt s = db_.prepare(full ? "PRAGMA integrity_check(10)" : "PRAGMA quick_check(10)", what);
      while (s.step()) problems.push_back(s.str(0));
    }
    if (problems.size() == 1 && problems[0] == "ok") problems.clear();
    if (full && problems.empty()) {
      Stmt fk = db_.prepare("PRAGMA foreign_key_check", what);
      if (fk.step())
        problems.push_back(cat("table ", fk.str(0), " row ", fk.i64(1), " references a missing ",
                               fk.str(2), " row"));
    }
    if (problems.empty()) return;
    std::string first = problems[0];
    for (char& c : first)
      if (c == '\n' || c == '\r') c = ' ';
    fail(db_.path(), ": database is damaged: ", first, problems.size() > 1 ? " (and more)" : "");
  }

 private:
  // Connection settings; the first statement that reads the file is here, so a file that is not
  // a database (or is corrupt in its first page) fails as "cannot open database".
  void configure() {
    const char* what = "cannot open database";
    db_.exec("PRAGMA foreign_keys = ON", what);
    std::string mode = db_.query_text("PRAGMA journal_mode", what);
    if (mode != "wal") {
      // Changing the mode takes an exclusive lock that concurrent openers contend for.
      db_.exec_retry_busy("PRAGMA journal_mode = WAL", what);
      mode = db_.query_text("PRAGMA journal_mode", what);
    }
    if (mode != "wal" && !(db_.path() == ":memory:" && mode == "memory"))
      fail(db_.path(), ": ", what, ": cannot use write-ahead logging (journal mode is ", mode,
           "; is the file on a network file system?)");
    db_.exec("PRAGMA synchronous = NORMAL", what);
  }

  static std::string run_query(const std::string& tail) {
    return cat("SELECT ", kRunColumns, " FROM runs ", tail);
  }

  void bind_self(Stmt& s, int first) {
    s.bind(first, self_.host).bind(first + 1, self_.pid).bind(first + 2, self_.start);
    s.bind(first + 3, self_.boot_id).bind(first + 4, self_.pid_ns);
  }

  void require_run(int64_t run, const std::string& what) {
    Stmt s = db_.prepare("SELECT 1 FROM runs WHERE id = ?1", what);
    s.bind(1, run);
    if (!s.step()) fail(db_.path(), ": ", what, ": no run with id ", run);
  }

  void insert_sample(int64_t run, const SampleRow& r) {
    const char* what = "adding samples";
    Stmt s = db_.prepare(
        "INSERT INTO samples (run_id, task, sample_id, prompt_hash, output, score, outcome, "
        "ttft_ms, tpot_ms, latency_ms, n_prompt_tokens, n_gen_tokens, extra_json, prompt) VALUES (?1, "
        "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        what);
    s.bind(1, run).bind(2, r.task).bind(3, r.sample_id).bind(4, r.prompt_hash);
    s.bind(5, r.output).bind(6, r.score).bind(7, r.outcome).bind(8, r.ttft_ms);
    s.bind(9, r.tpot_ms).bind(10, r.latency_ms).bind(11, r.n_prompt_tokens);
    s.bind(12, r.n_gen_tokens).bind_text_or_null(13, r.extra_json).bind(14, r.prompt);
    int rc = s.run_rc();
    if (rc == SQLITE_DONE) return;
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
      fail(db_.path(), ": ", what, ": run ", run, " already has sample \"", r.sample_id,
           "\" of task \"", r.task, "\"");
    db_.fail(rc, what);
  }

  Db db_;
  proc::Identity self_;
};

}  // namespace


std::unique_ptr<Store> Store::open(const std::string& path) {
  if (path.empty()) fail("cannot open database: empty path");
  return std::make_unique<SqliteStore>(path);
}

}  // namespace sb
