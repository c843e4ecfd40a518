#include "sim/engine/sweep_merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <optional>

#include "sim/common/error.h"

namespace dfsim {

namespace {

std::optional<std::size_t> parse_index(const std::string& text) {
  std::size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

struct Kept {
  const SweepRow* row = nullptr;
  std::string file;
  std::optional<std::size_t> index;
};

}  // namespace

MergeResult merge_sweep_files(const std::vector<std::string>& paths, SweepFileFormat format) {
  MergeResult result;
  std::vector<SweepFile> files;
  files.reserve(paths.size());
  std::vector<std::string> columns;
  std::string columns_from;
  for (const std::string& path : paths) {
    if (!std::filesystem::is_regular_file(path)) throw InputError(path + ": no such file");
    if (sweep_file_format(path, "dfsim merge") != format) {
      throw InputError(path + ": all files of a merge must have the output's format (" +
                       (format == SweepFileFormat::kCsv ? ".csv" : ".jsonl") + ")");
    }
    files.push_back(read_sweep_file(path));
    const SweepFile& file = files.back();
    if (file.partial_tail) {
      result.warnings.push_back(path + " ends in a partial row (its writer was killed); ignored");
    }
    if (file.columns.empty()) continue;
    if (columns.empty()) {
      columns = file.columns;
      columns_from = path;
    } else if (file.columns != columns) {
      throw InputError(path + ": its columns differ from " + columns_from +
                       "'s; the files come from different sweeps");
    }
  }
  result.files = files.size();
  if (columns.empty()) throw InputError("dfsim merge: the files hold no rows");

  auto column = [&](const char* name) {
    auto it = std::find(columns.begin(), columns.end(), name);
    return it == columns.end() ? -1 : static_cast<int>(it - columns.begin());
  };
  const int id_column = column("point_id");
  const int index_column = column("point_index");
  const int total_column = column("points_total");
  const int status_column = column("status");
  const int wall_column = column("wall_s");
  if (id_column < 0) throw InputError(columns_from + ": no point_id column; not a sweep output");

  auto same_point_row = [&](const SweepRow& a, const SweepRow& b) {
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (static_cast<int>(c) != wall_column && a.values[c] != b.values[c]) return false;
    }
    return true;
  };

  std::map<std::string, Kept> kept;
  std::optional<std::size_t> total;
  std::string total_from;
  for (std::size_t f = 0; f < files.size(); ++f) {
    for (const SweepRow& row : files[f].rows) {
      const std::string where = fmt::format("{}:{}", paths[f], row.line);
      std::optional<std::size_t> index;
      if (index_column >= 0) {
        index = parse_index(row.values[static_cast<std::size_t>(index_column)]);
        if (!index) throw InputError(where + ": point_index is not a non-negative integer");
      }
      if (total_column >= 0) {
        auto this_total = parse_index(row.values[static_cast<std::size_t>(total_column)]);
        if (!this_total) throw InputError(where + ": points_total is not a non-negative integer");
        if (total && *total != *this_total) {
          throw InputError(
              fmt::format("{}: points_total {}, but {} says {}: the files come from "
                          "different sweeps",
                          where, *this_total, total_from, *total));
        }
        if (!total) {
          total = this_total;
          total_from = where;
        }
        if (index && *index >= *total) {
          throw InputError(fmt::format("{}: point_index {} is not below points_total {}", where,
                                       *index, *total));
        }
      }
      const std::string& id = row.values[static_cast<std::size_t>(id_column)];
      auto [it, inserted] = kept.emplace(id, Kept{&row, paths[f], index});
      if (inserted) continue;
      if (same_point_row(*it->second.row, row)) {
        result.duplicates.push_back(id);
        continue;
      }
      result.conflicts.push_back(id);
      const bool new_ok =
          status_column >= 0 && row.values[static_cast<std::size_t>(status_column)] == "ok";
      const bool old_ok = status_column >= 0 &&
                          it->second.row->values[static_cast<std::size_t>(status_column)] == "ok";
      if (new_ok && !old_ok) it->second = Kept{&row, paths[f], index};
    }
  }

  std::vector<const Kept*> order;
  for (const auto& [id, entry] : kept) order.push_back(&entry);
  std::stable_sort(order.begin(), order.end(), [](const Kept* a, const Kept* b) {
    if (a->index && b->index) return *a->index < *b->index;
    return false;  // without indices: id order (the map's)
  });
  if (index_column >= 0) {
    for (std::size_t i = 1; i < order.size(); ++i) {
      if (*order[i]->index == *order[i - 1]->index) {
        throw InputError(fmt::format(
            "point_index {} belongs to two different point ids ({} and {}): the files come from "
            "different sweeps",
            *order[i]->index, order[i - 1]->row->values[static_cast<std::size_t>(id_column)],
            order[i]->row->values[static_cast<std::size_t>(id_column)]));
      }
    }
  }

  result.text = sweep_header_line(format, columns);
  for (const Kept* entry : order) {
    result.text += entry->row->text + "\n";
    if (status_column >= 0 && entry->row->values[static_cast<std::size_t>(status_column)] != "ok") {
      ++result.error_rows;
    }
  }
  result.rows = order.size();
  if (total && index_column >= 0) {
    result.points_total = *total;
    std::vector<bool> present(*total, false);
    for (const Kept* entry : order) present[*entry->index] = true;
    for (std::size_t i = 0; i < *total; ++i) {
      if (!present[i]) result.missing.push_back(i);
    }
  }
  return result;
}

std::string format_index_ranges(const std::vector<std::size_t>& indices, std::size_t max_ranges) {
  std::string text;
  std::size_t ranges = 0;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (ranges == max_ranges) {
      text += fmt::format(", ... and {} more", indices.size() - i);
      break;
    }
    text += (text.empty() ? "" : ", ") +
            (i == j ? std::to_string(indices[i]) : fmt::format("{}-{}", indices[i], indices[j]));
    ++ranges;
    i = j + 1;
  }
  return text;
}

}  // namespace dfsim
