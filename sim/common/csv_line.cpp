#include "sim/common/csv_line.h"

namespace dfsim {

std::vector<CsvField> split_csv_line(std::string_view line, const SourceLocation& where) {
  std::vector<CsvField> fields;
  std::size_t i = 0;
  for (;;) {
    CsvField field;
    field.column = i + 1;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) {
          throw InputError(SourceLocation{where.file, where.line, static_cast<int>(field.column)},
                           "", "unterminated quoted field");
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.text += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.text += line[i++];
      }
      if (i < line.size() && line[i] != ',') {
        throw InputError(SourceLocation{where.file, where.line, static_cast<int>(i + 1)}, "",
                         "text after a closing quote");
      }
    } else {
      std::size_t comma = line.find(',', i);
      std::size_t end = comma == std::string_view::npos ? line.size() : comma;
      field.text = std::string(line.substr(i, end - i));
      if (field.text.find('"') != std::string::npos) {
        throw InputError(
            SourceLocation{where.file, where.line, static_cast<int>(i + field.text.find('"') + 1)},
            "", "a quote inside an unquoted field (quote the whole field: \"a \"\"b\"\"\")");
      }
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) break;
    ++i;                     // the comma
    if (i == line.size()) {  // a trailing comma: one more, empty field
      fields.push_back(CsvField{"", i + 1});
      break;
    }
  }
  return fields;
}

}  // namespace dfsim
