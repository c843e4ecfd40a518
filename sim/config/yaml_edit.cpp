#include "sim/config/yaml_edit.h"

#include <cstddef>

#include "sim/common/error.h"
#include "sim/config/config_tree.h"

namespace dfsim {

namespace {

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = text.find(separator, begin);
    parts.emplace_back(text.substr(begin, end == std::string_view::npos ? end : end - begin));
    if (end == std::string_view::npos) return parts;
    begin = end + 1;
  }
}

std::size_t indentation(const std::string& line) {
  const std::size_t first = line.find_first_not_of(' ');
  return first == std::string::npos ? line.size() : first;
}

bool blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

bool is_comment(const std::string& line) {
  const std::size_t first = line.find_first_not_of(' ');
  return first != std::string::npos && line[first] == '#';
}

std::vector<std::string> comment_lines(const std::vector<std::string>& comment,
                                       std::size_t indent) {
  std::vector<std::string> lines;
  for (const std::string& text : comment) {
    lines.push_back(std::string(indent, ' ') + (text.empty() ? "#" : "# " + text));
  }
  return lines;
}

// Where the value of a block-style `key: value` on one line ends (before a trailing comment).
std::size_t value_end(const std::string& line, std::size_t start, bool quoted) {
  if (quoted) {
    const char quote = line[start];
    for (std::size_t i = start + 1; i < line.size(); ++i) {
      if (line[i] == quote && quote == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
        ++i;  // '' inside single quotes
      } else if (line[i] == '\\' && quote == '"') {
        ++i;
      } else if (line[i] == quote) {
        return i + 1;
      }
    }
    return line.size();
  }
  std::size_t end = line.find(" #", start);
  if (end == std::string::npos) end = line.size();
  while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r')) {
    --end;
  }
  return end;
}

}  // namespace

std::string set_yaml_value(const std::string& text, const std::string& source_name,
                           std::string_view dotted_key, const std::string& value,
                           const std::vector<std::string>& comment) {
  const ConfigNode root = parse_yaml(text, source_name);
  const std::vector<std::string> parts = split(dotted_key, '.');
  if (!root.is_map()) {
    throw InputError(root.location, std::string(dotted_key), "the document is not a map");
  }
  std::vector<std::string> lines = split(text, '\n');
  const bool final_newline = !lines.empty() && lines.back().empty();
  if (final_newline) lines.pop_back();
  auto join = [&] {
    std::string out;
    for (const std::string& line : lines) out += line + "\n";
    if (!final_newline && !out.empty()) out.pop_back();
    return out;
  };
  auto block_style = [&](const SourceLocation& key, const std::string& name) {
    const std::string& line = lines.at(key.line - 1);
    const std::size_t column = key.column - 1;
    if (indentation(line) != column || line.compare(column, name.size(), name) != 0) {
      throw InputError(key, std::string(dotted_key),
                       "only keys of block-style maps, one per line, can be edited");
    }
  };

  const ConfigNode* node = &root;
  std::size_t depth = 0;
  while (depth < parts.size() && node->is_map()) {
    const ConfigNode* child = node->find(parts[depth]);
    if (!child) break;
    node = child;
    ++depth;
  }

  if (depth == parts.size()) {
    // The key is there: replace its value, and a FITTED note above it.
    if (node->kind != ConfigNode::Kind::kScalar) {
      throw InputError(node->location, std::string(dotted_key),
                       "expected a single value to replace, got " + describe(*node));
    }
    const SourceLocation& key = node->key_location;
    block_style(key, parts.back());
    if (node->location.line != key.line) {
      throw InputError(node->location, std::string(dotted_key),
                       "only a value on the key's own line can be edited");
    }
    std::string& line = lines[key.line - 1];
    const std::size_t start = node->location.column - 1;
    line.replace(start, value_end(line, start, node->quoted) - start, value);
    std::size_t at = key.line - 1;
    for (std::size_t k = at; k > 0 && is_comment(lines[k - 1]); --k) {
      const std::string& above = lines[k - 1];
      if (above.compare(indentation(above), 8, "# FITTED") == 0) {
        lines.erase(lines.begin() + (k - 1), lines.begin() + at);
        at = k - 1;
        break;
      }
    }
    const std::vector<std::string> note = comment_lines(comment, key.column - 1);
    lines.insert(lines.begin() + at, note.begin(), note.end());
    return join();
  }

  if (!node->is_map()) {
    throw InputError(node->location, std::string(dotted_key),
                     "'" + parts[depth - 1] + "' is " + describe(*node) + ", not a map");
  }
  // Add the key (and the maps it needs) at the end of the deepest map that is there.
  std::size_t indent = 0;
  std::size_t at = lines.size();
  if (depth > 0) {
    const SourceLocation& key = node->key_location;
    block_style(key, parts[depth - 1]);
    if (node->location.line == key.line) {
      throw InputError(node->location, std::string(dotted_key),
                       "only keys of block-style maps, one per line, can be edited");
    }
    const std::size_t parent = key.column - 1;
    indent =
        node->entries.empty() ? parent + 2 : node->entries.front().second.key_location.column - 1;
    // The map's block: the lines indented deeper than its key, less the comments and blank
    // lines at its end that are indented like the key (they belong to the next key).
    at = key.line;
    while (at < lines.size() &&
           (blank(lines[at]) || is_comment(lines[at]) || indentation(lines[at]) > parent)) {
      ++at;
    }
    while (at > static_cast<std::size_t>(key.line) &&
           (blank(lines[at - 1]) ||
            (is_comment(lines[at - 1]) && indentation(lines[at - 1]) <= parent))) {
      --at;
    }
  }
  std::vector<std::string> added;
  for (std::size_t j = depth; j < parts.size(); ++j) {
    const std::size_t level = indent + 2 * (j - depth);
    if (j + 1 < parts.size()) {
      added.push_back(std::string(level, ' ') + parts[j] + ":");
    } else {
      const std::vector<std::string> note = comment_lines(comment, level);
      added.insert(added.end(), note.begin(), note.end());
      added.push_back(std::string(level, ' ') + parts[j] + ": " + value);
    }
  }
  lines.insert(lines.begin() + at, added.begin(), added.end());
  return join();
}

}  // namespace dfsim
