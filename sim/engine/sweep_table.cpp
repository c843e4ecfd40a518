#include "sim/engine/sweep_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace dfsim {

using nlohmann::json;
using nlohmann::ordered_json;

std::string csv_field(std::string_view value) {
  std::string text(value);
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (text.find_first_of(",\"") == std::string::npos && (text.empty() || text.front() != ' ')) {
    return text;
  }
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

SweepFileFormat sweep_file_format(const std::string& path, const std::string& option) {
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".csv")) return SweepFileFormat::kCsv;
  if (ends_with(".jsonl") || ends_with(".ndjson")) return SweepFileFormat::kJsonl;
  throw InputError(option + " " + path + ": expected a .csv or .jsonl file");
}

std::string sweep_header_line(SweepFileFormat format, const std::vector<std::string>& columns) {
  if (format == SweepFileFormat::kJsonl) return "";
  std::string line;
  for (const std::string& column : columns) {
    if (!line.empty()) line += ',';
    line += csv_field(column);
  }
  return line + "\n";
}

namespace {
std::string cell_text(const json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}
}  // namespace

std::string sweep_row_line(SweepFileFormat format, const std::vector<std::string>& columns,
                           const std::vector<json>& values) {
  if (format == SweepFileFormat::kJsonl) {
    ordered_json row = ordered_json::object();
    for (std::size_t i = 0; i < columns.size(); ++i) row[columns[i]] = values.at(i);
    // Error messages are single lines already; dump() escapes any newline anyway.
    return row.dump() + "\n";
  }
  std::string line;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i) line += ",";
    line += csv_field(cell_text(values.at(i)));
  }
  return line + "\n";
}

int SweepFile::column_index(const std::string& column) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == column) return static_cast<int>(i);
  }
  return -1;
}

SweepFile read_sweep_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  std::string text;
  if (stream) text.assign(std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>());
  return parse_sweep_text(text, path);
}

SweepFile parse_sweep_text(const std::string& text, const std::string& path) {
  SweepFile file;
  file.format = sweep_file_format(path, "sweep file");
  std::size_t last_newline = text.rfind('\n');
  file.complete_bytes = last_newline == std::string::npos ? 0 : last_newline + 1;
  file.partial_tail = file.complete_bytes < text.size();
  int line_number = 0;
  std::size_t begin = 0;
  while (begin < file.complete_bytes) {
    std::size_t end = text.find('\n', begin);
    std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    if (line.empty()) continue;
    SourceLocation where{path, line_number, 1};
    if (file.format == SweepFileFormat::kCsv) {
      std::vector<CsvField> fields = split_csv_line(line, where);
      if (file.columns.empty()) {
        for (CsvField& field : fields) file.columns.push_back(std::move(field.text));
        continue;
      }
      if (fields.size() != file.columns.size()) {
        throw InputError(where, "",
                         "expected " + std::to_string(file.columns.size()) + " fields, got " +
                             std::to_string(fields.size()));
      }
      SweepRow row{line_number, line, {}};
      for (CsvField& field : fields) row.values.push_back(std::move(field.text));
      file.rows.push_back(std::move(row));
    } else {
      ordered_json object = ordered_json::parse(line, nullptr, false);
      if (object.is_discarded() || !object.is_object()) {
        throw InputError(where, "", "not a JSON object");
      }
      std::vector<std::string> keys;
      for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
      if (file.columns.empty()) file.columns = keys;
      if (keys != file.columns) {
        throw InputError(where, "", "its keys differ from the first row's");
      }
      SweepRow row{line_number, line, {}};
      for (auto it = object.begin(); it != object.end(); ++it) {
        row.values.push_back(cell_text(json(it.value())));
      }
      file.rows.push_back(std::move(row));
    }
  }
  return file;
}

AppendFile::AppendFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw InputError(path + ": cannot open for writing: " + std::strerror(errno));
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(const std::string& line) {
  // Where the line starts: a write that fails half-way (a full disk, a file-size limit) is cut
  // back to here, so the file never ends in half a row.
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  std::size_t done = 0;
  // One write() normally takes the whole line; only a full disk or a signal splits it, and then
  // the rest follows at once.
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : ENOSPC;
      if (start >= 0 && ::ftruncate(fd_, start) != 0) {
        throw InputError(path_ + ": cannot write: " + std::strerror(error) +
                         "; the last row is partial (--resume drops it)");
      }
      throw InputError(path_ + ": cannot write: " + std::strerror(error) +
                       "; the rows before are whole, --resume continues once there is space");
    }
    done += static_cast<std::size_t>(n);
  }
}

void AppendFile::truncate(std::size_t bytes) {
  if (::ftruncate(fd_, static_cast<off_t>(bytes)) != 0) {
    throw std::runtime_error(path_ + ": truncate failed: " + std::strerror(errno));
  }
}

}  // namespace dfsim
