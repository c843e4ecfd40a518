// Editing one value of a config's YAML text (sim/config/yaml_edit.h), as `dfsim calibrate
// --write` does: the rest of the file, comments included, is kept byte for byte.
#include <catch2/catch.hpp>

#include "sim/common/error.h"
#include "sim/config/yaml_edit.h"
#include "tests/test_support.h"

using dfsim::set_yaml_value;
using dfsim::testing::message_of;

namespace {

const std::string kConfig =
    "# a config\n"
    "name: x\n"
    "kernel_call:\n"
    "  # why launch costs 3 us\n"
    "  launch_overhead: 3 us  # trailing note\n"
    "  host_sync: \"2 us\"\n"
    "\n"
    "# the link\n"
    "link:\n"
    "  latency: 0.5 us\n";

}  // namespace

TEST_CASE("set_yaml_value replaces a value and keeps its trailing comment", "[yaml_edit]") {
  CHECK(set_yaml_value(kConfig, "x.yaml", "kernel_call.launch_overhead", "4.5 us",
                       {"FITTED to a.csv:2 (test)", "  residuals"}) ==
        "# a config\n"
        "name: x\n"
        "kernel_call:\n"
        "  # why launch costs 3 us\n"
        "  # FITTED to a.csv:2 (test)\n"
        "  #   residuals\n"
        "  launch_overhead: 4.5 us  # trailing note\n"
        "  host_sync: \"2 us\"\n"
        "\n"
        "# the link\n"
        "link:\n"
        "  latency: 0.5 us\n");
  // A quoted value is replaced whole, quotes included.
  CHECK(set_yaml_value(kConfig, "x.yaml", "kernel_call.host_sync", "37 us", {}) ==
        "# a config\n"
        "name: x\n"
        "kernel_call:\n"
        "  # why launch costs 3 us\n"
        "  launch_overhead: 3 us  # trailing note\n"
        "  host_sync: 37 us\n"
        "\n"
        "# the link\n"
        "link:\n"
        "  latency: 0.5 us\n");
}

TEST_CASE("set_yaml_value replaces an earlier FITTED note, not the comments above it",
          "[yaml_edit]") {
  const std::string once =
      set_yaml_value(kConfig, "x.yaml", "link.latency", "0.7 us", {"FITTED to a.csv:2", "  r"});
  const std::string twice =
      set_yaml_value(once, "x.yaml", "link.latency", "0.9 us", {"FITTED to b.csv:5"});
  CHECK(twice ==
        "# a config\n"
        "name: x\n"
        "kernel_call:\n"
        "  # why launch costs 3 us\n"
        "  launch_overhead: 3 us  # trailing note\n"
        "  host_sync: \"2 us\"\n"
        "\n"
        "# the link\n"
        "link:\n"
        "  # FITTED to b.csv:5\n"
        "  latency: 0.9 us\n");
}

TEST_CASE("set_yaml_value adds a missing key at the end of its map, or a new map at the end",
          "[yaml_edit]") {
  // program_load goes after host_sync, before the blank line and the link's comment.
  CHECK(set_yaml_value(kConfig, "x.yaml", "kernel_call.program_load", "20 us", {"FITTED"}) ==
        "# a config\n"
        "name: x\n"
        "kernel_call:\n"
        "  # why launch costs 3 us\n"
        "  launch_overhead: 3 us  # trailing note\n"
        "  host_sync: \"2 us\"\n"
        "  # FITTED\n"
        "  program_load: 20 us\n"
        "\n"
        "# the link\n"
        "link:\n"
        "  latency: 0.5 us\n");
  // A child config that inherits the field gets the map too (sn40l-8.yaml has no kernel_call).
  CHECK(set_yaml_value("inherit: sn40l\nsockets: 8", "c.yaml", "kernel_call.host_sync", "9 us",
                       {"FITTED"}) ==
        "inherit: sn40l\nsockets: 8\nkernel_call:\n  # FITTED\n  host_sync: 9 us");
}

TEST_CASE("set_yaml_value refuses what it cannot edit as text, with file:line:column",
          "[yaml_edit]") {
  auto error = [](const std::string& text, const std::string& key) {
    return message_of<dfsim::InputError>([&] { set_yaml_value(text, "x.yaml", key, "1", {}); });
  };
  CHECK(error("link: {latency: 0.5 us}\n", "link.latency") ==
        "x.yaml:1:8: link.latency: only keys of block-style maps, one per line, can be edited");
  CHECK(error("link: {latency: 0.5 us}\n", "link.bandwidth") ==
        "x.yaml:1:7: link.bandwidth: only keys of block-style maps, one per line, can be edited");
  CHECK(error("name: x\n", "name.first") == "x.yaml:1:7: name.first: 'name' is 'x', not a map");
  CHECK(error("link:\n  latency: 1\n", "link") ==
        "x.yaml:2:3: link: expected a single value to replace, got a map");
}
