// `dfsim merge a.csv b.csv ... -o all.csv`: joins sweep shards; exit 0 when every point is
// there, 1 when some are missing (the merged file is written either way).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "sim/cli/commands.h"
#include "sim/cli/output_file.h"
#include "sim/common/error.h"
#include "sim/engine/sweep_merge.h"

namespace dfsim {

namespace {

struct MergeOptions {
  std::vector<std::string> inputs;
  std::string out;
};

std::string short_list(const std::vector<std::string>& ids) {
  std::string text;
  for (std::size_t i = 0; i < ids.size() && i < 10; ++i) text += (i ? ", " : "") + ids[i];
  if (ids.size() > 10) text += fmt::format(", ... and {} more", ids.size() - 10);
  return text;
}

int merge(const MergeOptions& options) {
  const SweepFileFormat format = sweep_file_format(options.out, "-o");
  for (const std::string& input : options.inputs) {
    std::error_code error;
    if (std::filesystem::equivalent(input, options.out, error)) {
      throw InputError("-o " + options.out + ": is also an input; write the merge elsewhere");
    }
  }
  MergeResult result = merge_sweep_files(options.inputs, format);
  for (const std::string& warning : result.warnings) {
    std::fprintf(stderr, "dfsim merge: warning: %s\n", warning.c_str());
  }
  write_file_atomically(options.out, result.text, "-o");
  std::string of_total =
      result.points_total ? fmt::format(" of {}", result.points_total) : std::string();
  std::fprintf(stderr, "dfsim merge: %zu%s points from %zu files -> %s (%zu with status error)\n",
               result.rows, of_total.c_str(), result.files, options.out.c_str(), result.error_rows);
  if (!result.duplicates.empty()) {
    std::fprintf(stderr,
                 "dfsim merge: %zu duplicate rows (same point, same values; kept one): %s\n",
                 result.duplicates.size(), short_list(result.duplicates).c_str());
  }
  if (!result.conflicts.empty()) {
    std::fprintf(stderr,
                 "dfsim merge: %zu points with differing rows (kept the ok one, else the first): "
                 "%s\n",
                 result.conflicts.size(), short_list(result.conflicts).c_str());
  }
  if (!result.missing.empty()) {
    std::fprintf(stderr, "dfsim merge: %zu of %zu points missing: point_index %s\n",
                 result.missing.size(), result.points_total,
                 format_index_ranges(result.missing).c_str());
    return 1;
  }
  if (!result.points_total) {
    std::fprintf(stderr,
                 "dfsim merge: the files have no points_total column; completeness not checked\n");
  }
  return 0;
}

}  // namespace

Action add_merge_command(CLI::App& app) {
  auto options = std::make_shared<MergeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "merge",
      "Join sweep output files (shards) in point order; report missing and duplicate points "
      "(exit 1 when points are missing)");
  cmd->add_option("files", options->inputs, "Sweep output files (.csv or .jsonl, one format)")
      ->required();
  cmd->add_option("--out,-o", options->out, "Merged file (same format as the inputs)")->required();
  return [options] { return merge(*options); };
}

}  // namespace dfsim
