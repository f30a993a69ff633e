// mpi_bench: `bench` under mpirun/srun (harness/mpi_comm.h). Every rank measures on its own
// node; rank 0 gathers the rows and stores them, one run per rank (and variant) with that
// rank's host, so a fleet's spread of tokens/s shows up as runs per machine.
//   - With one variant every rank measures the same matrix (a fleet view).
//   - With a --variant list the variants are dealt out round-robin (variant i on rank
//     i mod N; ranks beyond the list measure nothing).
//   - Threads: unless -t is given, each rank uses its share of its node's cores.
// Rows travel as the JSON of `bench -o json` (render_bench); bench_row_from_json is its inverse.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/bench.h"
#include "harness/mpi_comm.h"

namespace sb::cli::mpi {

struct RankBench {
  int rank = 0, local_rank = 0;
  std::string host, device;
  int threads = 0;
  int64_t pid = 0;
  std::vector<BenchRow> rows;
};

// This rank's part of the matrix (variants dealt out, threads shared).
void split_bench(BenchConfig& cfg, const Comm& c);
// Rank 0: every rank's rows in rank order (its own first); other ranks: sends theirs, nullopt.
std::optional<std::vector<RankBench>> gather_bench(Comm& c, const std::vector<BenchRow>& mine);

BenchRow bench_row_from_json(const nlohmann::json& j);

}  // namespace sb::cli::mpi
