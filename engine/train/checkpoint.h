// Resumable training checkpoints for distill() (distill.h): the student's f32 parameters, the
// AdamW state (step count, first and second moments in double), the number of steps done, the
// per-step losses, the held-out evaluations so far (the KLD before training included) and a
// settings line that fingerprints the run. A resumed run recomputes nothing that could differ:
// the batch order is a pure function of seed and step (distill.cc), so no RNG state is stored.
//
// File format (little-endian, version 1):
//   "SBCKPT\0\0" (8 bytes) | u32 version | u32 0 | u64 payload bytes | payload |
//   64 lower-case hex characters: SHA-256 of everything before them.
// Payload: string settings | i64 step | i64 tokens | f64 kld_before | u64 n, f64 losses[n] |
//   u64 n, (i64 step, f64 kld)[n] | i64 adam_steps | u64 n_params, then per parameter:
//   string name | u64 n, f32 w[n] | u64 nm, f64 m[nm] | u64 nv, f64 v[nv].
// Strings are u64 length + bytes. Any defect (missing file, wrong magic or version, short file,
// checksum mismatch, a field running past the payload) is one sb::Error naming the file and,
// where it helps, the byte offset; never a crash.
//
// A checkpoint directory holds checkpoint.sbck (the latest) and checkpoint.prev.sbck (the one
// before). save_checkpoint_dir renames the latest to .prev, then writes the new one atomically
// (temp file, fsync, rename, directory fsync), so a kill at any moment leaves at least one whole
// checkpoint: load_latest_checkpoint takes checkpoint.sbck, or .prev when the former is absent.
// Temp files left by a write that a kill interrupted are removed by the next save. One run at a
// time per directory: there is no lock.
// A corrupt latest checkpoint is an error (not silently skipped) that names the previous one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sb::train {

struct CheckpointParam {
  std::string name;
  std::vector<float> w;
  std::vector<double> m, v;  // AdamW moments; empty before the first step
};

struct Checkpoint {
  std::string settings;  // "key=value;..." fingerprint of the run (distill.cc builds it)
  int64_t step = 0;      // optimizer steps done
  int64_t tokens = 0;    // training tokens processed so far
  double kld_before = 0;
  std::vector<double> losses;                     // one per step done
  std::vector<std::pair<int64_t, double>> evals;  // (step, held-out KLD)
  int64_t adam_steps = 0;
  std::vector<CheckpointParam> params;
};

// Writes `c` to `path` atomically (temp + fsync + rename).
void save_checkpoint(const std::string& path, const Checkpoint& c);
// Reads and verifies a checkpoint file; throws sb::Error naming the file.
Checkpoint load_checkpoint(const std::string& path);

// The files of a checkpoint directory.
std::string checkpoint_latest_path(const std::string& dir);
std::string checkpoint_prev_path(const std::string& dir);
// Creates `dir` if needed, keeps the latest as .prev and writes `c` as the latest.
void save_checkpoint_dir(const std::string& dir, const Checkpoint& c);
// The latest whole checkpoint of `dir` and its path, or nullopt when the directory holds none.
std::optional<std::pair<Checkpoint, std::string>> load_latest_checkpoint(const std::string& dir);

// Compares the settings line of a checkpoint with the current run's: throws sb::Error naming
// `path` and the first key whose value differs (or that one side lacks).
void check_same_run(const std::string& path, const std::string& saved, const std::string& current);

}  // namespace sb::train
