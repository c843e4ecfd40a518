// One line of a CSV file split into fields, for every reader of CSV input (sweep tables and
// point files, request traces): quoting and the columns that errors name are decided once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sim/common/error.h"

namespace dfsim {

// One field of a CSV line and the 1-based character column where it starts.
struct CsvField {
  std::string text;
  std::size_t column = 1;
};

// Splits one CSV line (RFC 4180 quoting: "a,b" and "say ""hi"""). A field that opens a quote
// and does not close it, or text after a closing quote, is an InputError at `where` (its line,
// the column of the fault).
std::vector<CsvField> split_csv_line(std::string_view line, const SourceLocation& where);

}  // namespace dfsim
