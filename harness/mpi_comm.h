// mpi_comm: the only place sparkbench touches MPI (built when SPARKBENCH_WITH_MPI=1, CMake
// option SPARKBENCH_MPI). The engine never sees MPI; harness/mpi_run.h builds the work split of
// `run` and `bench` on these few calls.
//
// Contract:
//  - launcher_size() reads the launcher's environment (mpirun: OMPI_COMM_WORLD_SIZE; MPICH
//    Hydra and Slurm PMI: PMI_SIZE; srun: SLURM_STEP_NUM_TASKS inside a job step; PMIx:
//    PMIX_RANK > 0) without initializing MPI: 1 when the process was not started as one of
//    several ranks.
//  - world(cmd) is what a command calls first: nullptr for a single process; the world
//    communicator (MPI initialized once, finalized at exit) when launched with more than one
//    rank; and when launched with several ranks by a build without MPI it throws sb::Error (so N
//    copies do not each run the whole job against one database).
//  - Messages are text (JSON in practice) sent point to point with a small integer tag; sends
//    are blocking standard-mode sends, receives match any source unless a source is given.
//  - abort() ends every rank of the job (MPI_Abort): for an error on one rank that the others
//    would otherwise wait for forever.
//  - The node share: local_rank()/local_size() come from MPI_COMM_TYPE_SHARED (ranks on this
//    node); node_threads() is this rank's cores: those the launcher bound it to, else
//    an equal share of the node's cores.
#pragma once

#include <optional>
#include <string>

namespace sb::cli::mpi {

// True when this binary was built with MPI support.
bool compiled();
// "MPI (Open MPI v4.1.4)" or "no MPI (built with SPARKBENCH_MPI=OFF or without libopenmpi-dev)".
std::string describe_build();
// The number of ranks the launcher says this job has (1 when not launched by one).
int launcher_size();

struct Message {
  int source = 0;
  int tag = 0;
  std::string text;
};

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  virtual const std::string& host() const = 0;
  virtual void send(int dest, int tag, const std::string& text) = 0;
  // A waiting message from anyone, without blocking.
  virtual std::optional<Message> poll() = 0;
  // Blocks for the next message (from `source`, or anyone when source < 0).
  virtual Message recv(int source = -1) = 0;
  [[noreturn]] virtual void abort(int code) = 0;
};

// See the contract above. `cmd` names the command in the error of a build without MPI.
Comm* world(const std::string& cmd);

// This rank's thread count (see the contract above), at least 1.
int node_threads(const Comm& c);

}  // namespace sb::cli::mpi
