// SQLite implementation of sb::Store (reports/store.h). Schema: reports/store_schema.cc and
// docs/SCHEMA.md; connection handling: reports/sqlite_util.h; process identity for
// interrupted-run detection: reports/store_proc.h.
#include "reports/store.h"

#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>
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

// The one column <-> field rule of every row type: column c of the current row into a field
// of the matching type (NULL as the Stmt accessors read it), and fields bound in order.
void get(const Stmt& s, int c, std::string& v) { v = s.str(c); }
void get(const Stmt& s, int c, int64_t& v) { v = s.i64(c); }
void get(const Stmt& s, int c, uint64_t& v) { v = uint64_t(s.i64(c)); }  // stored as the int64 with the same bits
void get(const Stmt& s, int c, int& v) { v = int(s.i64(c)); }
void get(const Stmt& s, int c, bool& v) { v = s.i64(c) != 0; }
void get(const Stmt& s, int c, double& v) { v = s.f64(c); }
void get(const Stmt& s, int c, std::optional<double>& v) { v = s.opt_f64(c); }
void get(const Stmt& s, int c, std::optional<int64_t>& v) { v = s.opt_i64(c); }

// Columns first, first + 1, ... of the current row into `fields`, in order.
template <class... T>
void get_columns(const Stmt& s, int first, T&... fields) {
  int c = first;
  (get(s, c++, fields), ...);
}

// `values` bound to parameters ?first, ?first+1, ... in order.
template <class... T>
Stmt& bind_all(Stmt& s, int first, const T&... values) {
  int i = first;
  (s.bind(i++, values), ...);
  return s;
}

// Every row of `sql` (its ?1 bound to `run`), each read by `read`, in the order `sql` gives.
template <class Read>
auto read_rows(Db& db, const char* sql, const char* what, int64_t run, Read read) {
  Stmt s = db.prepare(sql, what);
  s.bind(1, run);
  std::vector<std::invoke_result_t<Read, const Stmt&>> out;
  while (s.step()) out.push_back(read(s));
  return out;
}

RunRecord read_run(const Stmt& s) {
  RunRecord r;
  RunInfo& i = r.info;
  get_columns(s, 0, r.id, i.label, i.group_id, i.kind, i.git_commit, i.git_dirty, i.tool_version, i.host, i.cpu, i.gpu, i.backend,
              i.threads, i.model_path, i.model_sha256, i.model_arch, i.synthetic_weights, i.variant, i.seed, i.config_json, r.status,
              r.started_at, r.finished_at, r.uuid);
  return r;
}

std::string doubles_to_json(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) {
    if (std::isfinite(x))
      a.push_back(x);
    else
      a.push_back(nullptr);  // JSON has no NaN/Inf
  }
  return a.dump();
}

std::vector<double> doubles_from_json(const std::string& text, const std::string& where) {
  nlohmann::json a = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!a.is_array()) fail(where, " is not a JSON array");
  std::vector<double> v;
  for (const auto& x : a) {
    if (x.is_number())
      v.push_back(x.get<double>());
    else if (x.is_null())
      v.push_back(std::numeric_limits<double>::quiet_NaN());
    else
      fail(where, " holds a non-number");
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
    db_.write(
        "starting a run",
        [&] {
          Stmt s = db_.prepare(
              "INSERT INTO runs (label, group_id, kind, git_commit, git_dirty, tool_version, host, "
              "cpu, gpu, backend, threads, model_path, model_sha256, model_arch, synthetic_weights, "
              "variant, seed, config_json, status, started_at, proc_host, proc_pid, proc_start, "
              "proc_boot_id, proc_pidns, uuid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
              "?12, ?13, ?14, ?15, ?16, ?17, ?18, 'running', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), "
              "?19, ?20, ?21, ?22, ?23, lower(hex(randomblob(16))))",
              "starting a run");
          bind_all(s, 1, i.label, i.group_id, i.kind, i.git_commit, i.git_dirty, i.tool_version, i.host, i.cpu, i.gpu, i.backend, i.threads,
                   i.model_path, i.model_sha256, i.model_arch, i.synthetic_weights, i.variant, int64_t(i.seed), i.config_json);
          bind_self(s, 19);
          s.run();
          id = db_.last_insert_rowid();
        },
        /*durable=*/true);
    return id;
  }

  void finish_run(int64_t run, const std::string& status) override {
    if (status != "complete" && status != "failed" && status != "interrupted")
      fail(db_.path(), ": finishing run ", run, ": invalid status \"", status, "\" (expected complete, failed or interrupted)");
    db_.write(
        "finishing a run",
        [&] {
          db_.prepare(
                 "UPDATE runs SET status = ?2, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
                 "'now') WHERE id = ?1",
                 "finishing a run")
              .bind(1, run)
              .bind(2, status)
              .run();
          if (db_.changes() == 0) fail(db_.path(), ": finishing run ", run, ": no such run");
        },
        /*durable=*/true);
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
        Candidate c;
        get_columns(s, 0, c.id, c.who.host, c.who.boot_id, c.who.pid_ns, c.who.pid, c.who.start);
        if (proc::check(c.who, self_) == proc::Liveness::dead) dead.push_back(c);
      }
    }
    if (dead.empty()) return 0;
    int marked = 0;
    db_.write(
        "marking interrupted runs",
        [&] {
          marked = 0;
          for (const auto& c : dead) {
            // Only if still the same process's run (another process may have resumed it since).
            Stmt u = db_.prepare(
                "UPDATE runs SET status = 'interrupted' WHERE id = ?1 AND status = 'running' "
                "AND proc_host = ?2 AND proc_boot_id = ?3 AND proc_pidns = ?4 "
                "AND proc_pid = ?5 AND proc_start = ?6",
                "marking interrupted runs");
            bind_all(u, 1, c.id, c.who.host, c.who.boot_id, c.who.pid_ns, c.who.pid, c.who.start).run();
            marked += int(db_.changes());
          }
        },
        /*durable=*/true);
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
      Stmt s = db_.prepare(run_query("WHERE label = ?1 ORDER BY id DESC LIMIT 1").c_str(), "finding a run");
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
    db_.write(
        "resuming a run",
        [&] {
          Stmt s = db_.prepare(
              "SELECT status, proc_host, proc_boot_id, proc_pidns, proc_pid, proc_start FROM runs "
              "WHERE id = ?1",
              "resuming a run");
          s.bind(1, run);
          if (!s.step()) fail(db_.path(), ": resuming run ", run, ": no such run");
          std::string status;
          proc::Identity who;
          get_columns(s, 0, status, who.host, who.boot_id, who.pid_ns, who.pid, who.start);
          if (status == "complete") fail(db_.path(), ": resuming run ", run, ": the run is complete; nothing to resume");
          bool mine = who.host == self_.host && who.pid == self_.pid && who.start == self_.start && who.boot_id == self_.boot_id &&
                      who.pid_ns == self_.pid_ns;
          if (status == "running" && !mine) {
            switch (proc::check(who, self_)) {
              case proc::Liveness::alive:
                fail(db_.path(), ": resuming run ", run, ": it is still running (pid ", who.pid, ")");
              case proc::Liveness::unknown:
                fail(db_.path(), ": resuming run ", run, ": it is marked running by pid ", who.pid, " on host ", who.host,
                     " (another host or container), which cannot be checked "
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
        },
        /*durable=*/true);
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
    std::string sql = std::string(cols) + (task.empty() ? "WHERE run_id = ?1 ORDER BY id" : "WHERE run_id = ?1 AND task = ?2 ORDER BY id");
    Stmt s = db_.prepare(sql.c_str(), "reading samples");
    s.bind(1, run);
    if (!task.empty()) s.bind(2, task);
    std::vector<SampleRow> out;
    while (s.step()) {
      SampleRow r;
      get_columns(s, 0, r.task, r.sample_id, r.prompt_hash, r.output, r.score, r.outcome, r.ttft_ms, r.tpot_ms, r.latency_ms,
                  r.n_prompt_tokens, r.n_gen_tokens, r.extra_json, r.prompt);
      out.push_back(std::move(r));
    }
    return out;
  }

  std::set<std::string> sample_ids(int64_t run, const std::string& task) override {
    Stmt s = db_.prepare("SELECT sample_id FROM samples WHERE run_id = ?1 AND task = ?2", "reading sample ids");
    s.bind(1, run).bind(2, task);
    std::set<std::string> out;
    while (s.step()) out.insert(s.str(0));
    return out;
  }

  void add_metric(int64_t run, const MetricRow& m) override {
    db_.write("adding a metric", [&] {
      require_run(run, "adding a metric");
      Stmt s = db_.prepare(
          "INSERT INTO metrics (run_id, task, metric, value, stderr, ci_low, ci_high, n, "
          "direction, unit, is_primary) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
          "ON CONFLICT (run_id, task, metric) DO UPDATE SET value = excluded.value, stderr = "
          "excluded.stderr, ci_low = excluded.ci_low, ci_high = excluded.ci_high, n = "
          "excluded.n, direction = excluded.direction, unit = excluded.unit, is_primary = "
          "excluded.is_primary",
          "adding a metric");
      bind_all(s, 1, run, m.task, m.metric, m.value, m.stderr_, m.ci_low, m.ci_high, m.n, std::string(direction_name(m.direction)), m.unit,
               m.primary)
          .run();
    });
  }

  std::vector<MetricRow> metrics(int64_t run) override {
    const char* sql =
        "SELECT task, metric, value, stderr, ci_low, ci_high, n, direction, unit, is_primary "
        "FROM metrics WHERE run_id = ?1 "
        "ORDER BY id";
    return read_rows(db_, sql, "reading metrics", run, [&](const Stmt& s) {
      MetricRow m;
      get_columns(s, 0, m.task, m.metric, m.value, m.stderr_, m.ci_low, m.ci_high, m.n);
      m.direction = parse_direction(s.str(7));
      get_columns(s, 8, m.unit, m.primary);
      return m;
    });
  }

  int64_t add_rank(int64_t run, const RankRow& r) override {
    int64_t id = 0;
    db_.write("adding a rank", [&] {
      require_run(run, "adding a rank");
      Stmt s = db_.prepare(
          "INSERT INTO run_ranks (run_id, rank, n_ranks, local_rank, host, device, threads, "
          "pid, items, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
          "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
          "adding a rank");
      bind_all(s, 1, run, r.rank, r.n_ranks, r.local_rank, r.host, r.device, r.threads, r.pid, r.items).run();
      id = db_.last_insert_rowid();
    });
    return id;
  }

  void set_rank_items(int64_t rank_row, int64_t items) override {
    db_.write("counting a rank's items", [&] {
      db_.prepare("UPDATE run_ranks SET items = ?2 WHERE id = ?1", "counting a rank's items").bind(1, rank_row).bind(2, items).run();
    });
  }

  std::vector<RankRow> ranks(int64_t run) override {
    const char* sql =
        "SELECT rank, n_ranks, local_rank, host, device, threads, pid, items, "
        "started_at FROM run_ranks WHERE run_id = ?1 ORDER BY id";
    return read_rows(db_, sql, "reading ranks", run, [&](const Stmt& s) {
      RankRow r;
      get_columns(s, 0, r.rank, r.n_ranks, r.local_rank, r.host, r.device, r.threads, r.pid, r.items, r.started_at);
      return r;
    });
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
      bind_all(s, 1, run, r.test, r.n_prompt, r.n_gen, r.n_depth, r.repetitions, r.avg_ts, r.stddev_ts, ts, ns, r.ttft_ms, r.tpot_ms,
               r.p50_ms, r.p90_ms, r.p99_ms, r.peak_rss_bytes, r.load_ms);
      s.bind_text_or_null(18, r.extra_json);
      s.run();
    });
  }

  std::vector<SpeedRow> speeds(int64_t run) override {
    const char* sql =
        "SELECT id, test, n_prompt, n_gen, n_depth, repetitions, avg_ts, stddev_ts, samples_ts, "
        "samples_ns, ttft_ms, tpot_ms, p50_ms, p90_ms, p99_ms, peak_rss_bytes, load_ms, "
        "extra_json FROM speed WHERE run_id = ?1 ORDER BY id";
    return read_rows(db_, sql, "reading speed rows", run, [&](const Stmt& s) {
      SpeedRow r;
      std::string where = cat(db_.path(), ": speed row ", s.i64(0), ": ");
      get_columns(s, 1, r.test, r.n_prompt, r.n_gen, r.n_depth, r.repetitions, r.avg_ts, r.stddev_ts);
      r.samples_ts = doubles_from_json(s.str(8), where + "samples_ts");
      r.samples_ns = doubles_from_json(s.str(9), where + "samples_ns");
      get_columns(s, 10, r.ttft_ms, r.tpot_ms, r.p50_ms, r.p90_ms, r.p99_ms, r.peak_rss_bytes, r.load_ms, r.extra_json);
      return r;
    });
  }

  void add_kernels(int64_t run, const std::vector<KernelRow>& rows) override {
    if (rows.empty()) return;
    db_.write("adding kernel rows", [&] {
      require_run(run, "adding kernel rows");
      for (const auto& k : rows) {
        Stmt s = db_.prepare(
            "INSERT INTO kernels (run_id, name, run_type, aggregate, iterations, "
            "real_time_ns, cpu_time_ns, counters_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
            "?7, ?8)",
            "adding kernel rows");
        bind_all(s, 1, run, k.name, k.run_type, k.aggregate, k.iterations, k.real_time_ns, k.cpu_time_ns)
            .bind_text_or_null(8, k.counters_json)
            .run();
      }
    });
  }

  std::vector<KernelRow> kernels(int64_t run) override {
    const char* sql =
        "SELECT name, run_type, aggregate, iterations, real_time_ns, cpu_time_ns, counters_json "
        "FROM kernels WHERE run_id = ?1 ORDER BY id";
    return read_rows(db_, sql, "reading kernel rows", run, [&](const Stmt& s) {
      KernelRow k;
      get_columns(s, 0, k.name, k.run_type, k.aggregate, k.iterations, k.real_time_ns, k.cpu_time_ns, k.counters_json);
      return k;
    });
  }

  void add_train_steps(int64_t run, const std::vector<TrainStepRow>& rows) override {
    if (rows.empty()) return;
    db_.write("adding training steps", [&] {
      require_run(run, "adding training steps");
      for (const auto& t : rows) {
        db_.prepare(
               "INSERT INTO train_steps (run_id, step, loss, lr, kld) VALUES (?1, ?2, ?3, ?4, ?5) "
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
    Stmt s = db_.prepare("SELECT step, loss, lr, kld FROM train_steps WHERE run_id = ?1 ORDER BY step", "reading training steps");
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
    const char* sql =
        "SELECT task, count(*), avg(tpot_ms), avg(tpot_ms * tpot_ms), count(ttft_ms), avg(ttft_ms) "
        "FROM samples WHERE run_id = ?1 AND tpot_ms IS NOT NULL AND n_gen_tokens >= 2 "
        "GROUP BY task ORDER BY task";
    return read_rows(db_, sql, "reading sample timings", run, [&](const Stmt& s) {
      TaskTiming t;
      t.task = s.str(0);
      t.n = s.i64(1);
      t.tpot_mean_ms = s.f64(2);
      const double var = s.f64(3) - t.tpot_mean_ms * t.tpot_mean_ms;
      t.tpot_sd_ms = t.n > 1 ? std::sqrt((var > 0 ? var : 0.0) * double(t.n) / double(t.n - 1)) : 0.0;
      t.n_ttft = s.i64(4);
      t.ttft_mean_ms = t.n_ttft ? s.f64(5) : 0.0;
      return t;
    });
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
      db_.prepare(
             "INSERT INTO request_cache (key, value, created_at) VALUES (?1, ?2, "
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
      if (fk.step()) problems.push_back(cat("table ", fk.str(0), " row ", fk.i64(1), " references a missing ", fk.str(2), " row"));
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
      fail(db_.path(), ": ", what, ": cannot use write-ahead logging (journal mode is ", mode, "; is the file on a network file system?)");
    db_.exec("PRAGMA synchronous = NORMAL", what);
  }

  static std::string run_query(const std::string& tail) { return cat("SELECT ", kRunColumns, " FROM runs ", tail); }

  void bind_self(Stmt& s, int first) { bind_all(s, first, self_.host, self_.pid, self_.start, self_.boot_id, self_.pid_ns); }

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
    bind_all(s, 1, run, r.task, r.sample_id, r.prompt_hash, r.output, r.score, r.outcome, r.ttft_ms, r.tpot_ms, r.latency_ms,
             r.n_prompt_tokens, r.n_gen_tokens);
    s.bind_text_or_null(13, r.extra_json).bind(14, r.prompt);
    int rc = s.run_rc();
    if (rc == SQLITE_DONE) return;
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
      fail(db_.path(), ": ", what, ": run ", run, " already has sample \"", r.sample_id, "\" of task \"", r.task, "\"");
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
