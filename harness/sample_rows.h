// sample_rows: one evaluated item's results (evals ItemResult) as the store's per-sample rows
// (reports SampleRow) and back, and a row as JSON for the MPI messages of harness/mpi_run.h.
// The item id travels in extra_json["item_id"]; the full prompt text and its sha256 are both kept.
// from_row/row_from_json throw sb::Error on malformed JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "evals/task.h"
#include "reports/store.h"

namespace sb::cli {

SampleRow to_row(const std::string& task, const ItemResult& r);
ItemResult from_row(const SampleRow& s);

// Puts rows in the suite's item order (stable: an item's samples keep their order), whatever
// order they were stored in (a resumed run, several MPI ranks), so metrics see one order.
void sort_by_item(std::vector<ItemResult>& rows, const Suite& suite);

nlohmann::json row_to_json(const SampleRow& s);
SampleRow row_from_json(const nlohmann::json& j);

}  // namespace sb::cli
