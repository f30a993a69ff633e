// store_merge: folding one results database (a "part", e.g. written by a CI job on another
// machine) into another (the central store), for `sparkbench merge`.
//
// Runs are identified by their UUID (runs.uuid, schema version 3): a part's run whose UUID the
// central store already has is skipped, so merging the same part twice adds nothing. A part at
// an older schema version is upgraded on a private copy first (the part file itself is never
// written; runs from before version 3 get stable UUIDs derived from their content, so the
// same old part gets the same UUIDs every time). Each new run is copied with all its rows
// (metrics, samples, speed, kernels, per-rank provenance, training steps) under a new run id; the request
// cache is merged too (existing keys kept). One part is one write transaction on the central
// store: a part that cannot be read (missing, not a sparkbench database, damaged, newer
// schema) throws sb::Error with one line naming the part, and nothing of it is merged.
#pragma once

#include <cstdint>
#include <string>

namespace sb {

struct MergeCounts {
  int64_t runs_added = 0;
  int64_t runs_present = 0;  // UUID already in the central store
  int64_t rows_added = 0;    // metrics, samples, speed, kernel, rank and training-step rows of the new runs
};

// Merges `part` into the store at `central` (created, or upgraded, as Store::open does).
MergeCounts merge_store(const std::string& central, const std::string& part);

}  // namespace sb
