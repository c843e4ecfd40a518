// `dfsim merge`: joins the output files of a sweep's shards (or of interrupted and resumed runs)
// into one, in point order, and says which points are missing or appear more than once.
#pragma once

#include <string>
#include <vector>

#include "sim/engine/sweep_table.h"

namespace dfsim {

struct MergeResult {
  std::string text;  // the merged file: header (CSV) and rows in point order
  std::size_t files = 0;
  std::size_t rows = 0;                 // distinct points in `text`
  std::size_t error_rows = 0;           // of which status error
  std::size_t points_total = 0;         // from the points_total column (0: the files do not say)
  std::vector<std::size_t> missing;     // point indices absent from every file
  std::vector<std::string> duplicates;  // ids seen more than once with equal rows (kept one)
  std::vector<std::string> conflicts;   // ids seen more than once with differing rows
  std::vector<std::string> warnings;    // e.g. a partial last line, ignored
};

// Reads the files (all in `format`, all with the same columns) and merges them. Rows count as
// equal when they agree in every column but wall_s. Of differing rows for one point, a row
// with status ok wins over an error; otherwise the first file's row is kept.
MergeResult merge_sweep_files(const std::vector<std::string>& paths, SweepFileFormat format);

// "3, 7, 100-109" (at most `max_ranges` ranges, then "... and N more").
std::string format_index_ranges(const std::vector<std::size_t>& indices,
                                std::size_t max_ranges = 20);

}  // namespace dfsim
