#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <vector>

#include "sim/config/config_tree.h"
#include "tests/test_support.h"

using dfsim::ConfigNode;
using dfsim::SourceLocation;
using Kind = dfsim::ConfigNode::Kind;

namespace fs = std::filesystem;

namespace {

// A scratch directory whose configs inherit from each other by name.
class ConfigDir : public dfsim::testing::TempDir {
 public:
  // Resolves `inherit: name` to name.yaml in this directory, remembering the calls.
  dfsim::InheritResolver resolver(std::vector<std::string>* calls = nullptr) const {
    return [this, calls](const std::string& name, const SourceLocation& where) {
      if (calls) calls->push_back(name + " @ " + where.str());
      return file(name + ".yaml");
    };
  }
};

std::vector<std::string> keys_of(const ConfigNode& node) {
  std::vector<std::string> keys;
  for (const auto& entry : node.entries) keys.push_back(entry.first);
  return keys;
}

const ConfigNode& at(const ConfigNode& node, std::string_view key) {
  const ConfigNode* child = node.find(key);
  REQUIRE(child != nullptr);
  return *child;
}

}  // namespace

TEST_CASE("parse_yaml builds a tree with 1-based locations", "[config_tree]") {
  const std::string text =
      "name: h100\n"
      "hbm:\n"
      "  capacity: 80 GiB\n"
      "  bandwidth: 3.35 TB/s\n"
      "dtypes: [bf16, fp8]\n"
      "empty:\n"
      "tilde: ~\n"
      "quoted: 'null'\n";
  ConfigNode root = dfsim::parse_yaml(text, "gpu.yaml");

  REQUIRE(root.kind == Kind::kMap);
  CHECK(root.location.str() == "gpu.yaml:1:1");
  CHECK(keys_of(root) ==
        std::vector<std::string>{"name", "hbm", "dtypes", "empty", "tilde", "quoted"});

  const ConfigNode& name = at(root, "name");
  CHECK(name.kind == Kind::kScalar);
  CHECK(name.scalar == "h100");
  CHECK(name.location.str() == "gpu.yaml:1:7");
  CHECK(name.key_location.str() == "gpu.yaml:1:1");

  const ConfigNode& hbm = at(root, "hbm");
  CHECK(hbm.is_map());
  CHECK(hbm.key_location.str() == "gpu.yaml:2:1");
  CHECK(hbm.location.str() == "gpu.yaml:3:3");
  const ConfigNode& capacity = at(hbm, "capacity");
  CHECK(capacity.scalar == "80 GiB");
  CHECK(capacity.key_location.str() == "gpu.yaml:3:3");
  CHECK(capacity.location.str() == "gpu.yaml:3:13");
  const ConfigNode& bandwidth = at(hbm, "bandwidth");
  CHECK(bandwidth.scalar == "3.35 TB/s");
  CHECK(bandwidth.location.str() == "gpu.yaml:4:14");

  const ConfigNode& dtypes = at(root, "dtypes");
  REQUIRE(dtypes.kind == Kind::kSequence);
  CHECK(dtypes.location.str() == "gpu.yaml:5:9");
  REQUIRE(dtypes.items.size() == 2);
  CHECK(dtypes.items[0].scalar == "bf16");
  CHECK(dtypes.items[0].location.str() == "gpu.yaml:5:10");
  CHECK(dtypes.items[1].scalar == "fp8");
  CHECK(dtypes.items[1].location.str() == "gpu.yaml:5:16");

  // An empty value has no text of its own, so it points at its key.
  const ConfigNode& empty = at(root, "empty");
  CHECK(empty.kind == Kind::kNull);
  CHECK(empty.location.str() == "gpu.yaml:6:1");
  const ConfigNode& tilde = at(root, "tilde");
  CHECK(tilde.kind == Kind::kNull);
  CHECK(tilde.location.str() == "gpu.yaml:7:8");
  const ConfigNode& quoted = at(root, "quoted");
  CHECK(quoted.kind == Kind::kScalar);
  CHECK(quoted.scalar == "null");

  CHECK(root.find("missing") == nullptr);
}

TEST_CASE("parse_yaml returns documents that are not maps as they are", "[config_tree]") {
  ConfigNode empty = dfsim::parse_yaml("", "--set");
  CHECK(empty.kind == Kind::kNull);
  ConfigNode comment = dfsim::parse_yaml("# nothing here\n", "f.yaml");
  CHECK(comment.kind == Kind::kNull);
  ConfigNode scalar = dfsim::parse_yaml("2TB/s", "--set");
  CHECK(scalar.kind == Kind::kScalar);
  CHECK(scalar.scalar == "2TB/s");
  ConfigNode list = dfsim::parse_yaml("[1, 2, 3]", "--set");
  CHECK(list.kind == Kind::kSequence);
  CHECK(list.items.size() == 3);
}

TEST_CASE("parse_yaml rejects duplicate keys, bad keys and syntax errors", "[config_tree]") {
  CHECK_THROWS_WITH(dfsim::parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n", "t.yaml"),
                    "t.yaml:4:3: b.c: duplicate key");
  CHECK_THROWS_WITH(dfsim::parse_yaml("a: 1\na: 2\n", "t.yaml"), "t.yaml:2:1: a: duplicate key");
  CHECK_THROWS_WITH(dfsim::parse_yaml("a: [1, 2\nb: 3\n", "t.yaml"),
                    "t.yaml:2:2: YAML syntax error: end of sequence flow not found");
  CHECK_THROWS_WITH(dfsim::parse_yaml("a:\n  b: 1\n c: 2\n", "t.yaml"),
                    "t.yaml:3:2: YAML syntax error: end of map not found");
  CHECK_THROWS_WITH(dfsim::parse_yaml("? [a]\n: 1\n", "t.yaml"),
                    "t.yaml:1:3: a key must be a plain value, not a map, list or nothing");
  CHECK_THROWS_WITH(dfsim::parse_yaml("a: 1\n---\nb: 2\n", "t.yaml"),
                    "t.yaml:3:1: only one YAML document is allowed");
  CHECK_THROWS_AS(dfsim::parse_yaml("a: 1\na: 2\n", "t.yaml"), dfsim::InputError);
}

TEST_CASE("parse_yaml copes with aliases", "[config_tree]") {
  ConfigNode shared = dfsim::parse_yaml("a: &x {p: 1}\nb: *x\n", "t.yaml");
  CHECK(at(at(shared, "b"), "p").scalar == "1");
  CHECK_THROWS_WITH(dfsim::parse_yaml("a: &x [*x]\n", "t.yaml"),
                    "t.yaml:1:4: a[0]: alias refers to a value that contains it");
  // Ten levels of ten aliases each would be 10^10 values.
  std::string laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string alias = "*l" + std::to_string(i - 1);
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + alias;
    for (int j = 1; j < 10; ++j) laughs += ", " + alias;
    laughs += "]\n";
  }
  CHECK_THROWS_WITH(dfsim::parse_yaml(laughs, "t.yaml"),
                    Catch::Contains("more than 1000000 values after expanding aliases"));
}

TEST_CASE("load_yaml_file names the file it cannot read", "[config_tree]") {
  ConfigDir dir;
  std::string missing = dir.file("missing.yaml");
  CHECK_THROWS_WITH(dfsim::load_yaml_file(missing),
                    missing + ": cannot read file: No such file or directory");
  std::string directory = dir.file("");
  CHECK_THROWS_WITH(dfsim::load_yaml_file(directory),
                    directory + ": cannot read file: Is a directory");
  try {
    dfsim::load_yaml_file(missing);
  } catch (const dfsim::InputError& error) {
    CHECK(error.location().file == missing);
    CHECK(error.location().line == 0);
  }

  std::string good = dir.write("good.yaml", "a:\n  b: 1\n");
  ConfigNode root = dfsim::load_yaml_file(good);
  CHECK(at(at(root, "a"), "b").location.str() == good + ":2:6");
}

TEST_CASE("inherit merges the child over its parents", "[config_tree]") {
  ConfigDir dir;
  std::string grand = dir.write("grand.yaml",
                                "description: generic\n"
                                "launch:\n"
                                "  overhead: 4 us\n");
  std::string base = dir.write("base.yaml",
                               "inherit: grand\n"
                               "description: base gpu\n"
                               "hbm:\n"
                               "  capacity: 80 GiB\n"
                               "  bandwidth: 3.35 TB/s\n"
                               "l2:\n"
                               "  capacity: 50 MiB\n"
                               "tags: [a, b]\n");
  std::string child = dir.write("child.yaml",
                                "inherit: base\n"
                                "hbm:\n"
                                "  bandwidth: 4.8 TB/s\n"
                                "tags: [c]\n"
                                "l2: ~\n"
                                "extra: 1\n");
  std::vector<std::string> calls;
  ConfigNode root = dfsim::load_config_with_inherit(child, dir.resolver(&calls));

  CHECK(calls ==
        std::vector<std::string>{"base @ " + child + ":1:10", "grand @ " + base + ":1:10"});
  CHECK(keys_of(root) ==
        std::vector<std::string>{"description", "launch", "hbm", "l2", "tags", "extra"});
  CHECK(root.location.str() == child + ":1:1");

  CHECK(at(root, "description").scalar == "base gpu");
  CHECK(at(root, "description").location.str() == base + ":2:14");
  CHECK(at(at(root, "launch"), "overhead").location.str() == grand + ":3:13");

  const ConfigNode& hbm = at(root, "hbm");
  CHECK(keys_of(hbm) == std::vector<std::string>{"capacity", "bandwidth"});
  CHECK(hbm.location.str() == child + ":3:3");
  CHECK(hbm.key_location.str() == child + ":2:1");
  CHECK(at(hbm, "capacity").scalar == "80 GiB");
  CHECK(at(hbm, "capacity").location.str() == base + ":4:13");
  CHECK(at(hbm, "bandwidth").scalar == "4.8 TB/s");
  CHECK(at(hbm, "bandwidth").location.str() == child + ":3:14");
  CHECK(at(hbm, "bandwidth").key_location.str() == child + ":3:3");

  const ConfigNode& tags = at(root, "tags");
  REQUIRE(tags.items.size() == 1);
  CHECK(tags.items[0].scalar == "c");
  CHECK(at(root, "l2").kind == Kind::kNull);
  CHECK(at(root, "extra").location.str() == child + ":6:8");
}

TEST_CASE("a config without inherit loads as it is", "[config_tree]") {
  ConfigDir dir;
  std::string path = dir.write("plain.yaml", "a: 1\nb: 2\n");
  bool resolved = false;
  ConfigNode root =
      dfsim::load_config_with_inherit(path, [&](const std::string&, const SourceLocation&) {
        resolved = true;
        return std::string();
      });
  CHECK_FALSE(resolved);
  CHECK(keys_of(root) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("inherit rejects cycles, deep chains and bad values", "[config_tree]") {
  ConfigDir dir;
  SECTION("two files inheriting each other") {
    std::string a = dir.write("a.yaml", "inherit: b\nx: 1\n");
    std::string b = dir.write("b.yaml", "x: 2\ninherit: a\n");
    CHECK_THROWS_WITH(dfsim::load_config_with_inherit(a, dir.resolver()),
                      b + ":2:10: inherit: cycle through a");
  }
  SECTION("a file inheriting itself") {
    std::string self = dir.write("self.yaml", "inherit: self\n");
    CHECK_THROWS_WITH(dfsim::load_config_with_inherit(self, dir.resolver()),
                      self + ":1:10: inherit: cycle through self");
  }
  SECTION("chains longer than 16 links") {
    for (int i = 0; i < 17; ++i) {
      dir.write("f" + std::to_string(i) + ".yaml",
                "inherit: f" + std::to_string(i + 1) + "\nlevel" + std::to_string(i) + ": 1\n");
    }
    dir.write("f17.yaml", "root: 1\n");
    // f1 -> f17 is 16 links: allowed, and every level contributes.
    ConfigNode root = dfsim::load_config_with_inherit(dir.file("f1.yaml"), dir.resolver());
    CHECK(root.entries.size() == 17);
    CHECK(root.entries.front().first == "root");
    CHECK_THROWS_WITH(dfsim::load_config_with_inherit(dir.file("f0.yaml"), dir.resolver()),
                      dir.file("f16.yaml") + ":1:10: inherit: chain deeper than 16");
  }
  SECTION("inherit must name a config") {
    std::string list = dir.write("list.yaml", "inherit: [a, b]\n");
    CHECK_THROWS_WITH(
        dfsim::load_config_with_inherit(list, dir.resolver()),
        list + ":1:10: inherit: expected the name of a config to inherit from, got a list");
    std::string empty = dir.write("empty_inherit.yaml", "inherit:\nx: 1\n");
    CHECK_THROWS_WITH(
        dfsim::load_config_with_inherit(empty, dir.resolver()),
        empty + ":1:1: inherit: expected the name of a config to inherit from, got nothing");
  }
  SECTION("a missing parent is reported by the resolver's path") {
    std::string orphan = dir.write("orphan.yaml", "inherit: nobody\n");
    CHECK_THROWS_WITH(dfsim::load_config_with_inherit(orphan, dir.resolver()),
                      dir.file("nobody.yaml") + ": cannot read file: No such file or directory");
  }
  SECTION("resolver errors pass through") {
    std::string path = dir.write("child.yaml", "inherit: unknown\n");
    auto refuse = [](const std::string& name, const SourceLocation& where) -> std::string {
      throw dfsim::InputError(where, "inherit", "no config named '" + name + "'");
    };
    CHECK_THROWS_WITH(dfsim::load_config_with_inherit(path, refuse),
                      path + ":1:10: inherit: no config named 'unknown'");
  }
}

TEST_CASE("a config file must be a non-empty map", "[config_tree]") {
  ConfigDir dir;
  std::string empty = dir.write("empty.yaml", "");
  CHECK_THROWS_WITH(dfsim::load_config_with_inherit(empty, dir.resolver()),
                    empty + ": empty document");
  std::string list = dir.write("list.yaml", "- a\n- b\n");
  CHECK_THROWS_WITH(dfsim::load_config_with_inherit(list, dir.resolver()),
                    list + ":1:1: top level must be a map of keys");
  std::string parent = dir.write("scalar.yaml", "just text\n");
  std::string child = dir.write("child.yaml", "inherit: scalar\n");
  CHECK_THROWS_WITH(dfsim::load_config_with_inherit(child, dir.resolver()),
                    parent + ":1:1: top level must be a map of keys");
}

TEST_CASE("apply_override replaces and creates values located at the override", "[config_tree]") {
  ConfigNode root = dfsim::parse_yaml(
      "hbm:\n"
      "  capacity: 80 GiB\n"
      "  bandwidth: 3.35 TB/s\n"
      "tags: [a]\n",
      "gpu.yaml");
  const SourceLocation where{"--set hw.hbm.bandwidth=2 TB/s", 0, 0};

  dfsim::apply_override(root, "hbm.bandwidth", "2 TB/s", where);
  const ConfigNode& hbm = at(root, "hbm");
  CHECK(keys_of(hbm) == std::vector<std::string>{"capacity", "bandwidth"});
  CHECK(at(hbm, "bandwidth").scalar == "2 TB/s");
  CHECK(at(hbm, "bandwidth").location.str() == where.file);
  CHECK(at(hbm, "bandwidth").key_location.str() == where.file);
  CHECK(at(hbm, "capacity").location.str() == "gpu.yaml:2:13");

  dfsim::apply_override(root, "hbm.latency", "1 us", where);
  CHECK(keys_of(hbm) == std::vector<std::string>{"capacity", "bandwidth", "latency"});
  CHECK(at(hbm, "latency").scalar == "1 us");

  dfsim::apply_override(root, "tags", "[x, {y: 1}]", where);
  const ConfigNode& tags = at(root, "tags");
  REQUIRE(tags.items.size() == 2);
  CHECK(tags.items[0].scalar == "x");
  CHECK(tags.items[0].location.str() == where.file);
  CHECK(at(tags.items[1], "y").location.str() == where.file);
  CHECK(at(tags.items[1], "y").key_location.str() == where.file);

  dfsim::apply_override(root, "hbm", "{capacity: 1 GB}", where);
  CHECK(keys_of(at(root, "hbm")) == std::vector<std::string>{"capacity"});

  dfsim::apply_override(root, "note", "", where);
  CHECK(at(root, "note").kind == Kind::kNull);
  CHECK(keys_of(root) == std::vector<std::string>{"hbm", "tags", "note"});
}

TEST_CASE("apply_override rejects keys that cannot exist", "[config_tree]") {
  ConfigNode root = dfsim::parse_yaml("hbm:\n  bandwidth: 3.35 TB/s\n", "gpu.yaml");
  const SourceLocation where{"--set", 0, 0};
  CHECK_THROWS_WITH(dfsim::apply_override(root, "nvlink.bandwidth", "1 TB/s", where),
                    "--set: nvlink.bandwidth: no such section 'nvlink'");
  CHECK_THROWS_WITH(dfsim::apply_override(root, "hbm.bandwidth.peak", "1 TB/s", where),
                    "--set: hbm.bandwidth.peak: 'bandwidth' is not a section");
  CHECK_THROWS_WITH(dfsim::apply_override(root, "", "1", where), "--set: empty key");
  CHECK_THROWS_WITH(dfsim::apply_override(root, "hbm..bandwidth", "1", where),
                    "--set: hbm..bandwidth: empty part in key");
  CHECK_THROWS_WITH(dfsim::apply_override(root, "hbm.", "1", where),
                    "--set: hbm.: empty part in key");
  CHECK_THROWS_WITH(dfsim::apply_override(root, "hbm.bandwidth", "[1, 2", where),
                    "--set: hbm.bandwidth: YAML syntax error: end of sequence flow not found");
  CHECK_THROWS_WITH(dfsim::apply_override(root, "hbm.x", "{a: 1, a: 2}", where),
                    "--set: hbm.x.a: duplicate key");
  // Failed overrides leave the tree alone.
  CHECK(at(at(root, "hbm"), "bandwidth").scalar == "3.35 TB/s");
  CHECK(at(root, "hbm").find("x") == nullptr);
}
