#include "harness/mpi_comm.h"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "engine/core/error.h"

#if SPARKBENCH_WITH_MPI
#include <mpi.h>
#endif

namespace sb::cli::mpi {
namespace {

int mpi_env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return (*end == 0 && n > 0 && n < (1 << 30)) ? int(n) : 0;
}

// Cores this rank may use: the launcher's binding when it bound the rank to fewer cores than
// the machine has (mpirun binds to cores by default), else an equal share of the node.
int mpi_rank_cores(int local_size) {
  cpu_set_t set;
  CPU_ZERO(&set);
  int bound = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) bound = CPU_COUNT(&set);
  const int hw = std::max(1, int(std::thread::hardware_concurrency()));
  if (bound > 0 && bound < hw) return bound;
  return std::max(1, hw / std::max(1, local_size));
}

#if SPARKBENCH_WITH_MPI

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail("MPI ", what, ": ", std::string(msg, size_t(len)));
}

class MpiComm final : public Comm {
 public:
  MpiComm() {
    int provided = 0;
    mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
    // Errors come back as codes (turned into sb::Error) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_), "split by node");
    MPI_Comm_rank(node_, &local_rank_);
    MPI_Comm_size(node_, &local_size_);
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    MPI_Get_processor_name(name, &len);
    host_.assign(name, size_t(len));
  }
  ~MpiComm() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
      MPI_Comm_free(&node_);
      MPI_Finalize();
    }
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  const std::string& host() const override { return host_; }

  void send(int dest, int tag, const std::string& text) override {
    mpi_check(MPI_Send(text.data(), int(text.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD), "send");
  }
  std::optional<Message> poll() override {
    int flag = 0;
    MPI_Status st;
    mpi_check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st), "probe");
    if (!flag) return std::nullopt;
    return take(st);
  }
  Message recv(int source) override {
    MPI_Status st;
    mpi_check(MPI_Probe(source < 0 ? MPI_ANY_SOURCE : source, MPI_ANY_TAG, MPI_COMM_WORLD, &st), "probe");
    return take(st);
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  Message take(const MPI_Status& st) {
    int count = 0;
    MPI_Get_count(&st, MPI_CHAR, &count);
    Message m{st.MPI_SOURCE, st.MPI_TAG, std::string(size_t(count), '\0')};
    MPI_Status st2;
    mpi_check(MPI_Recv(m.text.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, &st2), "receive");
    return m;
  }
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Comm node_ = MPI_COMM_NULL;
  std::string host_;
};

#endif

}  // namespace

bool compiled() { return SPARKBENCH_WITH_MPI != 0; }

std::string describe_build() {
#if SPARKBENCH_WITH_MPI
  char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(v, &len);
  std::string s(v, size_t(len));
  if (auto nl = s.find_first_of(",\n"); nl != std::string::npos) s.resize(nl);
  return "MPI (" + s + ")";
#else
  return "no MPI (built with SPARKBENCH_MPI=OFF or without libopenmpi-dev)";
#endif
}

int launcher_size() {
  int n = 1;
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"}) n = std::max(n, mpi_env_int(v));
  if (mpi_env_int("PMIX_RANK") > 0) n = std::max(n, 2);
  // srun sets the step's task count only inside a job step (SLURM_STEP_ID numeric), not in
  // the batch script itself.
  const char* step = std::getenv("SLURM_STEP_ID");
  if (step && *step && std::string(step).find_first_not_of("0123456789") == std::string::npos)
    n = std::max(n, mpi_env_int("SLURM_STEP_NUM_TASKS"));
  return n;
}

Comm* world(const std::string& cmd) {
  const int launched = launcher_size();
  if (launched <= 1) return nullptr;
#if SPARKBENCH_WITH_MPI
  static std::unique_ptr<MpiComm> w;
  if (!w) w = std::make_unique<MpiComm>();
  return w->size() > 1 ? w.get() : nullptr;
#else
  fail("`sparkbench ", cmd, "` was started as one of ", launched,
       " MPI ranks (mpirun/srun), but this sparkbench was built without MPI (SPARKBENCH_MPI=OFF or "
       "no libopenmpi-dev at build time); rebuild with MPI (-DSPARKBENCH_MPI=ON) or run one process");
#endif
}

int node_threads(const Comm& c) { return mpi_rank_cores(c.local_size()); }

}  // namespace sb::cli::mpi
