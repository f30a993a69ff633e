// mpi_run: how `sparkbench run` spreads its items over MPI ranks (docs/DESIGN.md, "Scale-out").
//
// The work of one variant is split into units: a unit is a chunk of consecutive pending items
// of one suite (items already stored for the run are never handed out, which is what makes
// --resume with any number of ranks finish a run without redoing anything). Rank 0 alone opens
// the store: it hands units out on demand (a rank asks for the next one when it finishes, so
// slow ranks get fewer), receives every evaluated item's per-sample rows as one message and
// commits them at once (a killed job loses only items in flight), and, with at most
// kRootWorksMaxRanks ranks, evaluates units itself between messages. When every item of the
// variant is stored, rank 0 computes the metrics from the stored rows with the same code as a
// single process, so a run's rows and metrics do not depend on the number of ranks. Fidelity
// and the speed probe of a sweep run on rank 0.
//
// Messages are JSON text (harness/mpi_comm.h), tag kTag:
//   worker -> 0: {"type":"hello", rank, local_rank, host, device, threads, pid}
//                {"type":"ready", "variant": k}           loaded variant k, wants work
//                {"type":"item", "unit": u, "rows": [row...], "seconds": s}  (sample_rows.h)
//                {"type":"unit_done", "unit": u}          wants the next unit
//                {"type":"error", "message": "..."}       the rank cannot go on
//   0 -> worker: {"type":"variant", "index": k, "model_sha256", "calibration_sha256"}
//                {"type":"unit", "unit": u, "suite": s, "items": [i...]}
//                {"type":"stop"}                           end of the run (or interrupted)
//
// Failure: a worker that cannot go on (its model does not load, an item throws) sends "error"
// and waits for "stop": rank 0 prints "rank R (host): message", puts the unit that rank held
// back into the queue and carries on with the other ranks (if no rank is left to evaluate, the
// run fails with that message). A rank that dies outright takes the job down under
// mpirun/srun (Open MPI 4.1 has no process-failure recovery): rank 0 stops at the next item
// (SIGTERM) or dies with the job, and the run is left "interrupted"; every item rank 0 had
// received is stored and `run --resume` (any -n, or without mpirun) evaluates only the rest.
//
// Fault injection for the tests: SPARKBENCH_MPI_TEST_DIE_AFTER_UNITS=R:N makes rank R (> 0)
// kill itself with SIGKILL after sending N units.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evals/task.h"
#include "harness/mpi_comm.h"
#include "harness/runner.h"
#include "reports/store.h"

namespace sb::cli::mpi {

inline constexpr int kTag = 7;
inline constexpr int kRootWorksMaxRanks = 4;

// Sets a rank's share of the node: threads (unless -t was given) and GPU ordinal by local rank.
void share_node(ModelArgs& margs, const Comm& c);

// What rank 0 hands to ItemRunner::run for one variant's run.
struct ItemsJob {
  const std::vector<Suite>& suites;
  const std::vector<std::unique_ptr<Task>>& tasks;
  const std::vector<size_t>& sizes;  // items per suite (after --limit)
  Store& store;
  int64_t run_id = 0;
  LanguageModel& lm;  // rank 0's model (through the request cache)
  size_t variant_index = 0;
  std::string variant;  // for progress lines
  std::string model_sha256, calibration_sha256;
  bool progress = false;
  const std::atomic<bool>& stop;
};

struct ItemsDone {
  std::vector<double> seconds;  // per suite: time spent evaluating its items (all ranks)
  int64_t items = 0;            // items evaluated now (not already stored)
};

// Rank 0's side (or the whole job in a single process, comm == nullptr). Records a provenance
// row per rank for each run; the destructor tells the workers to stop.
class ItemRunner {
 public:
  ItemRunner(Comm* comm, const ModelArgs& margs);
  ~ItemRunner();
  ItemRunner(const ItemRunner&) = delete;
  ItemRunner& operator=(const ItemRunner&) = delete;
  ItemsDone run(const ItemsJob& job);

 private:
  struct State;
  std::unique_ptr<State> st_;
};

// Ranks other than 0: serve units until rank 0 says stop. `suites`, the variants and the
// options are the same as rank 0's (every rank parses the same command line).
void serve_items(Comm& comm, const RunOptions& opt, const ModelArgs& margs, const std::vector<Suite>& suites,
                 const std::vector<compress::VariantSpec>& specs, const std::string& calib_text);

}  // namespace sb::cli::mpi
