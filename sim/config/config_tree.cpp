#include "sim/config/config_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_set>

namespace dfsim {

ConfigNode::ConfigNode() = default;
ConfigNode::ConfigNode(const ConfigNode&) = default;
ConfigNode::ConfigNode(ConfigNode&&) noexcept = default;
ConfigNode& ConfigNode::operator=(const ConfigNode&) = default;
ConfigNode& ConfigNode::operator=(ConfigNode&&) noexcept = default;
ConfigNode::~ConfigNode() = default;

const ConfigNode* ConfigNode::find(std::string_view key) const {
  for (const auto& [name, value] : entries) {
    if (name == key) return &value;
  }
  return nullptr;
}

ConfigNode* ConfigNode::find(std::string_view key) {
  return const_cast<ConfigNode*>(std::as_const(*this).find(key));
}

namespace {

constexpr std::string_view kInheritKey = "inherit";
constexpr size_t kMaxInheritDepth = 16;

std::string join_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Turns yaml-cpp nodes into ConfigNodes. `fixed` is set for `--set` values: their text has no
// place in a file, so every node (and every error) points at the override itself.
class Converter {
 public:
  Converter(const std::string& file, const SourceLocation* fixed) : file_(file), fixed_(fixed) {}

  SourceLocation locate(const YAML::Mark& mark) const {
    if (fixed_) return *fixed_;
    if (mark.is_null()) return SourceLocation{file_};
    return SourceLocation{file_, mark.line + 1, mark.column + 1};
  }

  // `path` is the dotted key of `yaml`, used to name duplicate keys.
  ConfigNode convert(const YAML::Node& yaml, const std::string& path) {
    ConfigNode node;
    node.location = locate(yaml.Mark());
    // Aliases make the YAML a graph: "&a [*a]" contains itself and ten nested lists of ten
    // aliases expand to 10^10 values. Either would take the process down.
    if (++converted_ > kMaxValues) {
      throw InputError(
          node.location, path,
          "more than " + std::to_string(kMaxValues) + " values after expanding aliases");
    }
    bool container = yaml.IsMap() || yaml.IsSequence();
    if (container) {
      for (const YAML::Node& open : open_) {
        if (open.is(yaml))
          throw InputError(node.location, path, "alias refers to a value that contains it");
      }
      open_.push_back(yaml);
    }
    switch (yaml.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        node.kind = ConfigNode::Kind::kNull;
        break;
      case YAML::NodeType::Scalar:
        node.kind = ConfigNode::Kind::kScalar;
        node.scalar = yaml.Scalar();
        node.quoted = yaml.Tag() == "!";  // yaml-cpp tags quoted scalars "!", plain ones "?"
        break;
      case YAML::NodeType::Sequence:
        node.kind = ConfigNode::Kind::kSequence;
        for (const YAML::Node& item : yaml) {
          node.items.push_back(convert(item, path + "[" + std::to_string(node.items.size()) + "]"));
        }
        break;
      case YAML::NodeType::Map:
        node.kind = ConfigNode::Kind::kMap;
        convert_entries(yaml, path, node);
        break;
    }
    if (container) open_.pop_back();
    return node;
  }

 private:
  void convert_entries(const YAML::Node& yaml, const std::string& path, ConfigNode& node) {
    std::unordered_set<std::string> seen;
    for (const auto& entry : yaml) {
      const YAML::Node& key = entry.first;
      SourceLocation key_location = locate(key.Mark());
      if (!key.IsScalar()) {
        throw InputError(key_location, path,
                         "a key must be a plain value, not a map, list or nothing");
      }
      std::string entry_path = join_key(path, key.Scalar());
      // yaml-cpp keeps both entries of a repeated key; which one wins would be a silent guess.
      if (!seen.insert(key.Scalar()).second)
        throw InputError(key_location, entry_path, "duplicate key");
      ConfigNode value = convert(entry.second, entry_path);
      // An empty value ("key:" then a newline) gets the mark of the next token, often the next
      // key; the key itself is where the user has to look.
      if (value.kind == ConfigNode::Kind::kNull && !fixed_) {
        const YAML::Mark& mark = entry.second.Mark();
        if (mark.is_null() || mark.line != key.Mark().line || mark.pos <= key.Mark().pos) {
          value.location = key_location;
        }
      }
      value.key_location = key_location;
      node.entries.emplace_back(key.Scalar(), std::move(value));
    }
  }

  static constexpr size_t kMaxValues = 1'000'000;

  const std::string& file_;
  const SourceLocation* fixed_;
  std::vector<YAML::Node> open_;  // maps and lists being converted, outermost first
  size_t converted_ = 0;
};

// Records where the content of each document of a stream starts, and nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override { starts.emplace_back(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

  std::vector<std::optional<YAML::Mark>> starts;  // per document, its first node

 private:
  void node(const YAML::Mark& mark) {
    if (!starts.empty() && !starts.back()) starts.back() = mark;
  }
};

ConfigNode parse(std::string_view text, const std::string& file, const SourceLocation* fixed,
                 const std::string& path) {
  Converter converter(file, fixed);
  const std::string input(text);
  YAML::Node document;
  try {
    // yaml-cpp 0.7's LoadAll never returns on a ',' where a node should start (",", "{}\n,"):
    // each next document is empty and consumes nothing (jbeder/yaml-cpp#1040, fixed upstream by
    // #1319). Documents are therefore counted here, stopping at the second one.
    std::istringstream stream(input);
    YAML::Parser parser(stream);
    DocumentStarts documents;
    while (documents.starts.size() < 2 && parser.HandleNextDocument(documents)) {
    }
    if (documents.starts.empty()) {
      ConfigNode empty;
      empty.location = fixed ? *fixed : SourceLocation{file, 1, 1};
      return empty;
    }
    if (documents.starts.size() > 1) {
      const YAML::Mark second = documents.starts[1].value_or(YAML::Mark::null_mark());
      const auto at = static_cast<std::size_t>(second.pos);
      if (second.pos >= 0 && at < input.size() && input[at] == ',') {
        throw InputError(converter.locate(second), fixed ? path : "",
                         "YAML syntax error: unexpected ','");
      }
      throw InputError(converter.locate(second), path, "only one YAML document is allowed");
    }
    document = YAML::Load(input);
  } catch (const YAML::Exception& error) {
    throw InputError(converter.locate(error.mark), fixed ? path : "",
                     "YAML syntax error: " + error.msg);
  }
  return converter.convert(document, path);
}

// Child over parent, in place. Merged maps take the child's location: it is the file the user
// is looking at, and a missing key is reported at the map.
void merge_into(ConfigNode& base, ConfigNode&& over) {
  base.location = over.location;
  base.key_location = over.key_location;
  for (auto& [key, value] : over.entries) {
    ConfigNode* existing = base.find(key);
    if (existing && existing->is_map() && value.is_map()) {
      merge_into(*existing, std::move(value));
    } else if (existing) {
      *existing = std::move(value);
    } else {
      base.entries.emplace_back(key, std::move(value));
    }
  }
}

std::filesystem::path identity_of(const std::string& path) {
  std::error_code error;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(path, error);
  if (error) return std::filesystem::absolute(path, error).lexically_normal();
  return canonical;
}

ConfigNode load_chain(const std::string& path, const InheritResolver& resolve,
                      std::vector<std::filesystem::path>& chain) {
  ConfigNode root = load_yaml_file(path);
  if (root.kind == ConfigNode::Kind::kNull)
    throw InputError(SourceLocation{path}, "", "empty document");
  if (!root.is_map()) throw InputError(root.location, "", "top level must be a map of keys");

  auto inherit = std::find_if(root.entries.begin(), root.entries.end(),
                              [](const auto& entry) { return entry.first == kInheritKey; });
  if (inherit == root.entries.end()) return root;
  ConfigNode name = std::move(inherit->second);
  root.entries.erase(inherit);
  std::string key(kInheritKey);
  if (name.kind != ConfigNode::Kind::kScalar) {
    throw InputError(name.location, key,
                     "expected the name of a config to inherit from, got " + describe(name));
  }

  std::string parent_path = resolve(name.scalar, name.location);
  std::filesystem::path identity = identity_of(parent_path);
  if (std::find(chain.begin(), chain.end(), identity) != chain.end()) {
    throw InputError(name.location, key, "cycle through " + name.scalar);
  }
  if (chain.size() > kMaxInheritDepth) {
    throw InputError(name.location, key, "chain deeper than " + std::to_string(kMaxInheritDepth));
  }
  chain.push_back(identity);
  ConfigNode merged = load_chain(parent_path, resolve, chain);
  merge_into(merged, std::move(root));
  return merged;
}

}  // namespace

ConfigNode parse_yaml(std::string_view text, const std::string& source_name) {
  return parse(text, source_name, nullptr, "");
}

ConfigNode load_yaml_file(const std::string& path) {
  auto fail = [&path](int error_number) {
    throw InputError(SourceLocation{path}, "",
                     std::string("cannot read file: ") + std::strerror(error_number));
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) fail(errno);
  std::string text;
  char buffer[1 << 16];
  size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, count);
  // A directory opens fine and fails only here, with EISDIR.
  if (std::ferror(file.get())) fail(errno);
  return parse_yaml(text, path);
}

ConfigNode load_config_with_inherit(const std::string& path, const InheritResolver& resolve) {
  std::vector<std::filesystem::path> chain{identity_of(path)};
  return load_chain(path, resolve, chain);
}

void apply_override(ConfigNode& root, std::string_view dotted_key, std::string_view value,
                    const SourceLocation& where) {
  std::string key(dotted_key);
  if (key.empty()) throw InputError(where, "", "empty key");
  std::vector<std::string_view> segments;
  for (size_t start = 0;;) {
    size_t dot = dotted_key.find('.', start);
    segments.push_back(dotted_key.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (std::any_of(segments.begin(), segments.end(), [](auto s) { return s.empty(); })) {
    throw InputError(where, key, "empty part in key");
  }
  if (!root.is_map()) throw InputError(where, key, "the config is not a map of keys");

  ConfigNode* section = &root;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    std::string segment(segments[i]);
    ConfigNode* next = section->find(segment);
    if (!next) throw InputError(where, key, "no such section '" + segment + "'");
    if (!next->is_map()) throw InputError(where, key, "'" + segment + "' is not a section");
    section = next;
  }

  ConfigNode node = parse(value, where.file, &where, key);
  node.key_location = where;
  if (ConfigNode* existing = section->find(segments.back())) {
    *existing = std::move(node);
  } else {
    section->entries.emplace_back(std::string(segments.back()), std::move(node));
  }
}

std::string describe(const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::kNull:
      return "nothing";
    case ConfigNode::Kind::kMap:
      return "a map";
    case ConfigNode::Kind::kSequence:
      return "a list";
    case ConfigNode::Kind::kScalar:
      return "'" + node.scalar + "'";
  }
  return "a value";
}

}  // namespace dfsim
