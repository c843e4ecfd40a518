// Requests from a trace file: a CSV with one request per row (arrival time, prompt tokens, output
// tokens). Two headers are accepted, columns in any order:
//   dfsim's own:       arrival_s,input_tokens,output_tokens
//     arrival_s is seconds since the run began (a number >= 0).
//   Azure LLM inference traces (github.com/Azure/AzurePublicDataset, 2023 and 2024):
//                      TIMESTAMP,ContextTokens,GeneratedTokens
//     TIMESTAMP is a wall-clock datetime "2023-11-16 18:15:46.6805900" (up to 9 fractional
//     digits); arrivals become seconds since the first row.
// Token counts are integers >= 1 (a request generates its first token in the prefill). Arrivals
// never go backwards. Blank lines are skipped; a trailing CR is dropped. Anything else -- a
// missing, unknown or repeated column, a row with too few or too many fields, a value that is not a
// number, a negative or zero token count, time going backwards, no rows -- is an InputError naming
// file:line:column and the column.
#pragma once

#include <string>
#include <vector>

#include "sim/serving/request.h"

namespace dfsim {

// Parses trace text; `file_name` is what error locations name.
std::vector<Request> parse_request_trace(const std::string& text, const std::string& file_name);

// Reads and parses a trace file (an unreadable file is an InputError naming it).
std::vector<Request> read_request_trace(const std::string& path);

}  // namespace dfsim
