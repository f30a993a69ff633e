// compare: regression check between two runs of the results database (`sparkbench compare`).
//
// Rows (decision rules in docs/COMPARE.md):
//  - accuracy, one per (task, metric) present in either run. The task's primary metric (the one
//    whose value is the mean of the per-sample scores, else the task's first metric) is tested on
//    the samples paired by (task, sample_id): McNemar's exact test when every paired score is 0
//    or 1, a paired bootstrap otherwise. Other metrics use a z-test on the two stored standard
//    errors (or intervals) when both runs have one. Metrics whose values both lie in [0, 1] use
//    the absolute threshold (max_accuracy_drop); others (perplexity...) the relative one.
//    Which way is worse comes from the direction stored with the rows (evals/metric_registry.h);
//    a metric whose rows do not say (written before schema version 3) is never a regression or
//    an improvement: it shows as warn when it changed, ok when it did not.
//  - speed, one per bench configuration (test, n_prompt, n_gen, n_depth): Mann-Whitney U on the
//    per-repetition tokens/s, medians compared with a relative threshold and an absolute floor.
//  - kernel, one per Google Benchmark name (`sparkbench ingest`): Mann-Whitney U on the
//    per-repetition real time, relative threshold.
// A row is a regression only when it is significant (p < alpha) AND worse than the threshold;
// improvement likewise; warn when the data cannot decide (too few repetitions, a drop beyond the
// threshold that is not significant or cannot be tested); incomparable when one side is missing
// or nothing pairs.
//
// Where: reports/compare_decide.h (rows, statistics, verdicts: pure), reports/compare_render.h
// (table, Markdown, JUnit, JSON), this file's functions (reading runs from the store).
#pragma once

#include <memory>
#include <string>

#include "reports/compare_decide.h"
#include "reports/compare_render.h"
#include "reports/store.h"

namespace sb::compare {

// Resolves a run reference: a run id, a label (the latest run with it), "latest", or "latest~N"
// (the Nth run before the latest). Throws sb::Error naming the database when nothing matches.
RunRecord resolve_run(Store& store, const std::string& ref, const std::string& db_path);
RunData load_run(Store& store, const RunRecord& run);

// Opens an existing results database (compare and history only read): a missing path or a
// directory is an sb::Error naming the path, instead of a new empty database being created.
std::unique_ptr<Store> open_existing(const std::string& path);

}  // namespace sb::compare
