#include "harness/mpi_run.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/cached_lm.h"
#include "evals/engine_lm.h"
#include "evals/long_context.h"
#include "harness/chat_args.h"
#include "harness/provenance.h"
#include "harness/sample_rows.h"
#include "harness/variants.h"

namespace sb::cli::mpi {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int resolved_threads(const ModelArgs& m) { return m.threads > 0 ? m.threads : std::max(1, int(std::thread::hardware_concurrency())); }

std::string device_label(const std::string& backend, const ModelArgs& m) {
  return backend == "cuda" ? backend + ":" + std::to_string(m.device) : backend;
}

// Every sample row of item i of `suite`, evaluated on `lm`.
std::vector<SampleRow> evaluate_item(const Suite& suite, Task& task, size_t i, LanguageModel& lm) {
  std::vector<SampleRow> rows;
  for (const auto& r : task.run(i, lm)) rows.push_back(to_row(suite.name, r));
  return rows;
}

#if SPARKBENCH_WITH_MPI
json parse_message(const Message& m) {
  json j = json::parse(m.text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("type")) fail("MPI: malformed message from rank ", m.source, " (tag ", m.tag, ")");
  return j;
}

// SPARKBENCH_MPI_TEST_DIE_AFTER_UNITS=R:N (see mpi_run.h): N for this rank, or -1.
int64_t die_after_units(int rank) {
  const char* v = std::getenv("SPARKBENCH_MPI_TEST_DIE_AFTER_UNITS");
  if (!v) return -1;
  int r = -1;
  long long n = -1;
  if (std::sscanf(v, "%d:%lld", &r, &n) != 2 || r != rank) return -1;
  return n;
}

#endif

class MemoryCache : public RequestCache {
 public:
  std::optional<std::string> get(const std::string& key) override {
    auto it = m_.find(key);
    if (it == m_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& key, const std::string& value) override { m_[key] = value; }

 private:
  std::unordered_map<std::string, std::string> m_;
};

}  // namespace

void share_node(ModelArgs& margs, const Comm& c) {
  if (margs.threads <= 0) margs.threads = node_threads(c);
  if (margs.backend == "cuda") {
    // One rank per GPU: the node's GPUs in local-rank order (wrapping when ranks outnumber them).
    int gpus = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec))
      ++gpus;
    margs.device = gpus > 0 ? c.local_rank() % gpus : c.local_rank();
  }
}

struct ItemRunner::State {
  Comm* comm = nullptr;
  ModelArgs margs;
  std::string backend;
  std::map<int, json> hello;  // rank -> its hello message
  std::set<int> failed;       // ranks that reported an error
  bool released = false;

  // Provenance rows of one run: this process, and each worker that said hello.
  std::map<int, int64_t> rank_rows;  // rank -> run_ranks id (for the current run)
  std::map<int, int64_t> items_by_rank;

  void add_rank_row(Store& store, int64_t run, int rank, const json& h) {
    RankRow r;
    r.rank = rank;
    r.n_ranks = comm ? comm->size() : 1;
    r.local_rank = h.value("local_rank", 0);
    r.host = h.value("host", std::string());
    r.device = h.value("device", std::string());
    r.threads = h.value("threads", 0);
    r.pid = h.value("pid", int64_t(0));
    rank_rows[rank] = store.add_rank(run, r);
  }
};

ItemRunner::ItemRunner(Comm* comm, const ModelArgs& margs) : st_(std::make_unique<State>()) {
  st_->comm = comm;
  st_->margs = margs;
  st_->backend = margs.backend.empty() ? default_backend() : margs.backend;
}

ItemRunner::~ItemRunner() {
#if SPARKBENCH_WITH_MPI
  if (st_->comm && !st_->released) {
    for (int r = 1; r < st_->comm->size(); ++r) {
      try {
        st_->comm->send(r, kTag, json{{"type", "stop"}}.dump());
      } catch (...) {
      }
    }
  }
#endif
}

namespace {

// The items of every suite without a stored sample yet (a resumed run skips what it has), in
// suite and item order; their count in n_pending.
std::vector<std::vector<size_t>> pending_items(const ItemsJob& job, int64_t& n_pending) {
  std::vector<std::vector<size_t>> todo(job.suites.size());
  for (size_t k = 0; k < job.suites.size(); ++k) {
    const std::set<std::string> have = job.store.sample_ids(job.run_id, job.suites[k].name);
    for (size_t i = 0; i < job.sizes[k]; ++i) {
      const std::string id = job.suites[k].item_id(i);
      if (!have.count(id) && !have.count(id + "#0")) todo[k].push_back(i);
    }
    n_pending += int64_t(todo[k].size());
  }
  return todo;
}

// A single process: every item here, suite by suite.
void run_here(const ItemsJob& job, const std::vector<std::vector<size_t>>& todo, ItemsDone& done,
              const std::function<void(int, const std::vector<SampleRow>&)>& store_item) {
  for (size_t k = 0; k < job.suites.size() && !job.stop; ++k) {
    const auto t0 = Clock::now();
    for (size_t j = 0; j < todo[k].size() && !job.stop; ++j) {
      const size_t i = todo[k][j];
      if (job.progress) std::fprintf(stderr, "\r[%s] %s %zu/%zu   ", job.variant.c_str(), job.suites[k].name.c_str(), i + 1, job.sizes[k]);
      store_item(0, evaluate_item(job.suites[k], *job.tasks[k], i, job.lm));
    }
    if (job.progress && !todo[k].empty()) std::fprintf(stderr, "\n");
    done.seconds[k] = seconds_since(t0);
  }
}

}  // namespace

ItemsDone ItemRunner::run(const ItemsJob& job) {
  State& st = *st_;
  ItemsDone done;
  done.seconds.assign(job.suites.size(), 0.0);
  st.rank_rows.clear();
  st.items_by_rank.clear();
  const json self{{"local_rank", st.comm ? st.comm->local_rank() : 0},
                  {"host", st.comm ? st.comm->host() : host_name()},
                  {"device", device_label(st.backend, st.margs)},
                  {"threads", resolved_threads(st.margs)},
                  {"pid", int64_t(::getpid())}};
  st.add_rank_row(job.store, job.run_id, 0, self);
  for (const auto& [r, h] : st.hello) st.add_rank_row(job.store, job.run_id, r, h);

  // The pending items of every suite, in suite and item order.
  struct Unit {
    int64_t id = 0;
    size_t suite = 0;
    std::vector<size_t> items;
  };
  std::deque<Unit> pending;
  int64_t n_pending = 0;
  const std::vector<std::vector<size_t>> todo = pending_items(job, n_pending);
  auto store_item = [&](int rank, const std::vector<SampleRow>& rows) {
    job.store.add_samples(job.run_id, rows);
    ++done.items;
    ++st.items_by_rank[rank];
  };
  auto record_items = [&] {
    for (const auto& [r, id] : st.rank_rows) job.store.set_rank_items(id, st.items_by_rank[r]);
  };

  if (!st.comm) {
    run_here(job, todo, done, store_item);
    record_items();
    return done;
  }

#if SPARKBENCH_WITH_MPI
  Comm& comm = *st.comm;
  const int n_ranks = comm.size();
  // Units of about a quarter of an even share each, so ranks that finish early take more.
  const int64_t chunk = std::clamp<int64_t>(n_pending / (4 * int64_t(n_ranks)), 1, 32);
  int64_t next_id = 0;
  for (size_t k = 0; k < todo.size(); ++k)
    for (size_t j = 0; j < todo[k].size(); j += size_t(chunk)) {
      Unit u{next_id++, k, {}};
      for (size_t x = j; x < std::min(todo[k].size(), j + size_t(chunk)); ++x) u.items.push_back(todo[k][x]);
      pending.push_back(std::move(u));
    }
  for (int r = 1; r < n_ranks; ++r)
    if (!st.failed.count(r))
      comm.send(r, kTag,
                json{{"type", "variant"},
                     {"index", job.variant_index},
                     {"model_sha256", job.model_sha256},
                     {"calibration_sha256", job.calibration_sha256}}
                    .dump());
  const bool root_works = n_ranks <= kRootWorksMaxRanks;
  std::map<int, Unit> outstanding;  // rank -> its unit
  std::deque<int> idle;             // ready ranks without a unit
  std::optional<Unit> own;
  size_t own_pos = 0;
  int64_t stored = 0;
  std::string last_error;
  auto handle = [&](const Message& m) {
    const json j = parse_message(m);
    const std::string type = j["type"];
    if (type == "hello") {
      st.hello[m.source] = j;
      st.add_rank_row(job.store, job.run_id, m.source, j);
    } else if (type == "ready") {
      if (j.value("variant", int64_t(-1)) == int64_t(job.variant_index)) idle.push_back(m.source);
    } else if (type == "item") {
      std::vector<SampleRow> rows;
      for (const auto& r : j.at("rows")) rows.push_back(row_from_json(r));
      auto it = outstanding.find(m.source);
      if (it != outstanding.end()) done.seconds[it->second.suite] += j.value("seconds", 0.0);
      store_item(m.source, rows);
      ++stored;
    } else if (type == "unit_done") {
      outstanding.erase(m.source);
      idle.push_back(m.source);
    } else if (type == "error") {
      last_error = cat("rank ", m.source, " (", st.hello.count(m.source) ? st.hello[m.source].value("host", "?") : "?",
                       "): ", j.value("message", std::string("?")));
      std::fprintf(stderr, "sparkbench: %s; its work goes to the other ranks\n", last_error.c_str());
      st.failed.insert(m.source);
      auto it = outstanding.find(m.source);
      if (it != outstanding.end()) {
        // Items of the unit it already sent are stored; the rest go back to the queue.
        const std::set<std::string> have = job.store.sample_ids(job.run_id, job.suites[it->second.suite].name);
        Unit rest{it->second.id, it->second.suite, {}};
        for (size_t i : it->second.items) {
          const std::string id = job.suites[rest.suite].item_id(i);
          if (!have.count(id) && !have.count(id + "#0")) rest.items.push_back(i);
        }
        if (!rest.items.empty()) pending.push_front(std::move(rest));
        outstanding.erase(it);
      }
      std::erase(idle, m.source);
    } else {
      fail("MPI: unexpected message \"", type, "\" from rank ", m.source);
    }
  };
  const int64_t total = n_pending;
  auto progress = [&] {
    if (job.progress)
      std::fprintf(stderr, "\r[%s] %lld/%lld items on %d ranks   ", job.variant.c_str(), (long long)done.items, (long long)total, n_ranks);
  };
  while (!job.stop && (!pending.empty() || !outstanding.empty() || own)) {
    bool busy = false;
    while (auto m = comm.poll()) {
      handle(*m);
      busy = true;
    }
    while (!idle.empty() && !pending.empty()) {
      const int r = idle.front();
      idle.pop_front();
      Unit u = std::move(pending.front());
      pending.pop_front();
      comm.send(r, kTag, json{{"type", "unit"}, {"unit", u.id}, {"suite", u.suite}, {"items", u.items}}.dump());
      outstanding[r] = std::move(u);
      busy = true;
    }
    const bool workers_left = int(st.failed.size()) < n_ranks - 1;
    if (!own && !pending.empty() && (root_works || !workers_left)) {
      own = std::move(pending.front());
      pending.pop_front();
      own_pos = 0;
    }
    if (own) {
      const auto t0 = Clock::now();
      store_item(0, evaluate_item(job.suites[own->suite], *job.tasks[own->suite], own->items[own_pos], job.lm));
      done.seconds[own->suite] += seconds_since(t0);
      if (++own_pos == own->items.size()) own.reset();
      busy = true;
    }
    progress();
    if (!busy) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  if (job.progress) std::fprintf(stderr, "\n");
  record_items();
  return done;
#else
  fail("internal: MPI work split in a build without MPI");
#endif
}

void serve_items(Comm& comm, const RunOptions& opt, const ModelArgs& margs, const std::vector<Suite>& suites,
                 const std::vector<compress::VariantSpec>& specs, const std::string& calib_text) {
#if SPARKBENCH_WITH_MPI
  const int me = comm.rank();
  const int64_t die_after = die_after_units(me);
  int64_t units_sent = 0;
  std::string error;
  // Waits for "stop" (ignoring anything else) after this rank gave up.
  auto wait_for_stop = [&] {
    for (;;) {
      Message m = comm.recv(0);
      if (parse_message(m).value("type", std::string()) == "stop") return;
    }
  };
  auto report = [&](const std::string& what) {
    error = what;
    try {
      comm.send(0, kTag, json{{"type", "error"}, {"message", what}}.dump());
    } catch (...) {
    }
    wait_for_stop();
    fail("rank ", me, ": ", what);
  };
  LoadedModel lm;
  std::unique_ptr<ChatTemplate> chat;
  TaskOptions task_opt = opt.task;
  try {
    lm = load_model(margs);
    chat = open_chat_template(opt.chat, lm.model->file(), *lm.tokenizer);
    task_opt.chat = ChatMode{chat.get(), opt.chat.system, opt.chat.scoring};
  } catch (const std::exception& e) {
    report(e.what());
  }
  comm.send(0, kTag,
            json{{"type", "hello"},
                 {"rank", me},
                 {"local_rank", comm.local_rank()},
                 {"host", comm.host()},
                 {"device", device_label(lm.backend->name(), margs)},
                 {"threads", resolved_threads(margs)},
                 {"pid", int64_t(::getpid())}}
                .dump());
  // Tasks are made once the first variant's engine exists: a long_context suite's items depend
  // on the context in use (the same for every variant), as on rank 0.
  std::vector<Suite> run_suites;
  std::vector<std::unique_ptr<Task>> tasks;
  std::unique_ptr<Model> owned;
  std::unique_ptr<EngineLM> engine;
  std::unique_ptr<MemoryCache> cache;
  std::unique_ptr<CachedLM> cached;
  for (;;) {
    const Message m = comm.recv(0);
    const json j = parse_message(m);
    const std::string type = j["type"];
    if (type == "stop") return;
    try {
      if (type == "variant") {
        const size_t k = j.at("index").get<size_t>();
        if (k >= specs.size()) fail("variant index ", k, " out of range");
        const auto& spec = specs[k];
        cached.reset();
        engine.reset();
        owned.reset();
        const Model* model = lm.model.get();
        if (!spec.is_base()) {
          VariantLoad vl = load_variant_model(lm.model->file_ptr(), spec, *lm.backend, *lm.tokenizer, calib_text,
                                              j.value("model_sha256", std::string()), /*verbose=*/false);
          owned = std::move(vl.model);
          model = owned.get();
        }
        EngineLMSettings settings{.model_sha256 = j.value("model_sha256", std::string()), .variant = spec.name(), .compute = margs.compute};
        if (spec.needs_calibration()) settings.calibration_sha256 = j.value("calibration_sha256", std::string());
        set_chat_identity(opt.chat, chat.get(), settings);
        engine = std::make_unique<EngineLM>(*model, *lm.tokenizer, lm.ctx_opts, settings);
        cache = std::make_unique<MemoryCache>();
        cached = std::make_unique<CachedLM>(*engine, *cache);
        if (tasks.empty()) {
          for (const auto& s : suites)
            run_suites.push_back(s.task == "long_context" ? long_context_items(s, engine->context_length(), opt.long_context) : s);
          for (const auto& s : run_suites) tasks.push_back(Task::create(s, task_opt));
        }
        comm.send(0, kTag, json{{"type", "ready"}, {"variant", k}}.dump());
      } else if (type == "unit") {
        if (!cached) fail("a unit before a variant");
        const size_t k = j.at("suite").get<size_t>();
        if (k >= run_suites.size()) fail("suite index ", k, " out of range");
        for (size_t i : j.at("items").get<std::vector<size_t>>()) {
          if (auto other = comm.poll()) {  // rank 0 stops the run (interrupted) mid-unit
            if (parse_message(*other).value("type", std::string()) == "stop") return;
          }
          const auto t0 = Clock::now();
          json rows = json::array();
          for (const auto& r : evaluate_item(run_suites[k], *tasks[k], i, *cached)) rows.push_back(row_to_json(r));
          comm.send(0, kTag, json{{"type", "item"}, {"unit", j.at("unit")}, {"rows", rows}, {"seconds", seconds_since(t0)}}.dump());
        }
        comm.send(0, kTag, json{{"type", "unit_done"}, {"unit", j.at("unit")}}.dump());
        if (die_after >= 0 && ++units_sent >= die_after) ::kill(::getpid(), SIGKILL);
      } else {
        fail("unexpected message \"", type, "\" from rank 0");
      }
    } catch (const std::exception& e) {
      report(e.what());
    }
  }
#else
  (void)comm, (void)opt, (void)margs, (void)suites, (void)specs, (void)calib_text;
  fail("internal: MPI worker in a build without MPI");
#endif
}

}  // namespace sb::cli::mpi
