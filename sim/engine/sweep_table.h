// Sweep result files: one flat row per point, as CSV (a header line, then rows) or JSON lines
// (one object per line). Both are line-oriented and a row is always one line, so a row appended
// with a single write() is either whole on disk or absent, and a file can be resumed, sharded and
// merged by reading its lines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sim/common/csv_line.h"
#include "sim/common/error.h"

namespace dfsim {

// A field quoted when it needs to be; newlines become spaces so a row stays one line.
std::string csv_field(std::string_view value);

enum class SweepFileFormat { kCsv, kJsonl };

// By extension: .csv or .jsonl (also .ndjson); anything else is an InputError naming `option`.
SweepFileFormat sweep_file_format(const std::string& path, const std::string& option);

// The header line of a CSV file (empty for JSON lines, which name the columns in every row).
std::string sweep_header_line(SweepFileFormat format, const std::vector<std::string>& columns);
// One row, newline-terminated. CSV writes strings as they are and numbers in JSON notation;
// null is an empty cell (JSON lines keep the types).
std::string sweep_row_line(SweepFileFormat format, const std::vector<std::string>& columns,
                           const std::vector<nlohmann::json>& values);

struct SweepRow {
  int line = 0;                     // 1-based line in the file
  std::string text;                 // the line as written, without its newline
  std::vector<std::string> values;  // per column; JSON numbers as written, null as ""
};

struct SweepFile {
  SweepFileFormat format = SweepFileFormat::kCsv;
  std::vector<std::string> columns;
  std::vector<SweepRow> rows;
  // Bytes up to the end of the last newline-terminated line. A file whose writer was killed in
  // the middle of a write could end in a partial line; it is not a row.
  std::size_t complete_bytes = 0;
  bool partial_tail = false;

  // Index of `column`, or -1.
  int column_index(const std::string& column) const;
};

// Reads a sweep output file; malformed lines are InputErrors at file:line. A missing file is
// read as empty (no columns, no rows).
SweepFile read_sweep_file(const std::string& path);
// The same for the text of such a file; `path` names its format and the error locations.
SweepFile parse_sweep_text(const std::string& text, const std::string& path);

// A file that rows are appended to (O_APPEND): each append is one write() of the whole line, so
// concurrent readers and a kill at any moment never see half a row.
class AppendFile {
 public:
  explicit AppendFile(const std::string& path);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void append(const std::string& line);
  // Cuts the file to `bytes` (a partial last line left by a killed writer).
  void truncate(std::size_t bytes);

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace dfsim
