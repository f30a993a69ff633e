// Conversion between a task's ItemResult (evals/task.h) and the store's SampleRow
// (reports/store.h), shared by the local and the remote (`run --api`) evaluation loops.
// to_row() keeps the item id in extra_json ("item_id"); from_row() reads it back (falling back
// to the sample id), so metrics computed from stored rows equal those from fresh rows.
#pragma once

#include <string>

#include "evals/task.h"
#include "reports/store.h"

namespace sb::cli {

SampleRow to_row(const std::string& task, const ItemResult& r);
ItemResult from_row(const SampleRow& s);

}  // namespace sb::cli
