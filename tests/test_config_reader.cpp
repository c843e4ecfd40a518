#include <catch2/catch.hpp>

#include "sim/config/config_reader.h"

using dfsim::ConfigNode;
using dfsim::ConfigReader;
using dfsim::Dimension;
using dfsim::Range;

namespace {

ConfigNode parse(const std::string& text) {
  return dfsim::parse_yaml(text, "t.yaml");
}

}  // namespace

TEST_CASE("ConfigReader reads typed values", "[config_reader]") {
  ConfigNode root = parse(
      "name: h100-sxm\n"
      "sms: 132\n"
      "offset: -3\n"
      "tensor_cores: true\n"
      "schedule: lru\n"
      "hbm:\n"
      "  capacity: 80 GiB\n"
      "  bandwidth: 3.35 TB/s\n"
      "  achievable_fraction: 0.92\n"
      "  latency: 0 ns\n"
      "description: anything\n"
      "extra: [1, 2]\n");
  ConfigReader reader(root, "");
  CHECK(reader.path().empty());
  CHECK(reader.location().str() == "t.yaml:1:1");
  CHECK(reader.has("sms"));
  CHECK_FALSE(reader.has("nope"));

  CHECK(reader.string("name") == "h100-sxm");
  CHECK(reader.integer("sms") == 132);
  CHECK(reader.integer("offset", -5, 5) == -3);
  CHECK(reader.boolean("tensor_cores"));
  CHECK(reader.choice("schedule", {"fifo", "lru"}) == "lru");

  ConfigReader hbm = reader.child("hbm");
  CHECK(hbm.path() == "hbm");
  CHECK(hbm.quantity("capacity", Dimension::kBytes) == 80.0 * 1024 * 1024 * 1024);
  CHECK(hbm.quantity("bandwidth", Dimension::kBandwidth) == Approx(3.35e12).epsilon(1e-15));
  CHECK(hbm.quantity("achievable_fraction", Dimension::kCount, Range::kFraction) == 0.92);
  CHECK(hbm.quantity("latency", Dimension::kDuration, Range::kNonNegative) == 0);
  hbm.finish();

  CHECK(reader.quantity_or("clock", Dimension::kFrequency, 1.5e9) == 1.5e9);
  CHECK(reader.integer_or("cores", 7) == 7);
  CHECK(reader.string_or("vendor", "nvidia") == "nvidia");
  CHECK(reader.boolean_or("sparse", false) == false);
  CHECK(reader.choice_or("policy", {"a", "b"}, "b") == "b");
  CHECK_FALSE(reader.optional_child("nvlink").has_value());

  reader.ignore("description");
  const ConfigNode* extra = reader.raw("extra");
  REQUIRE(extra != nullptr);
  CHECK(extra->items.size() == 2);
  CHECK(reader.raw("absent") == nullptr);
  CHECK_NOTHROW(reader.finish());
}

TEST_CASE("_or readers still check values that are present", "[config_reader]") {
  ConfigNode root = parse("clock: 2 GHz\ncores: 0\nlink:\n  width: 16\n");
  ConfigReader reader(root, "");
  CHECK(reader.quantity_or("clock", Dimension::kFrequency, 1.0) == 2e9);
  CHECK_THROWS_WITH(reader.integer_or("cores", 4),
                    "t.yaml:2:8: cores: must be at least 1, got '0'");
  std::optional<ConfigReader> link = reader.optional_child("link");
  REQUIRE(link.has_value());
  CHECK(link->path() == "link");
  CHECK(link->integer("width") == 16);
}

TEST_CASE("ConfigReader reports missing keys and values", "[config_reader]") {
  ConfigNode root = parse(
      "name: x\n"
      "hbm:\n"
      "  capacity: 80 GiB\n"
      "empty:\n"
      "tilde: ~\n");
  ConfigReader reader(root, "");
  ConfigReader hbm = reader.child("hbm");
  CHECK_THROWS_WITH(hbm.quantity("bandwidth", Dimension::kBandwidth),
                    "t.yaml:3:3: hbm.bandwidth: missing required key");
  CHECK_THROWS_WITH(reader.child("l2"), "t.yaml:1:1: l2: missing required key");
  CHECK_THROWS_WITH(reader.string("empty"), "t.yaml:4:1: empty: missing value");
  CHECK_THROWS_WITH(reader.integer("tilde"), "t.yaml:5:8: tilde: missing value");
  // Writing the key without a value is not a request for the default.
  CHECK_THROWS_WITH(reader.string_or("tilde", "fallback"), "t.yaml:5:8: tilde: missing value");
  CHECK_THROWS_WITH(reader.child("empty"), "t.yaml:4:1: empty: expected a map, got nothing");
}

TEST_CASE("ConfigReader reports values of the wrong shape", "[config_reader]") {
  ConfigNode root = parse(
      "map: {a: 1}\n"
      "list: [1, 2]\n"
      "scalar: 3\n");
  ConfigReader reader(root, "gpu");
  CHECK_THROWS_WITH(reader.quantity("map", Dimension::kBandwidth),
                    "t.yaml:1:6: gpu.map: expected a bandwidth, got a map");
  CHECK_THROWS_WITH(reader.quantity("list", Dimension::kBytes),
                    "t.yaml:2:7: gpu.list: expected a size, got a list");
  CHECK_THROWS_WITH(reader.integer("list"),
                    "t.yaml:2:7: gpu.list: expected an integer, got a list");
  CHECK_THROWS_WITH(reader.string("map"), "t.yaml:1:6: gpu.map: expected a string, got a map");
  CHECK_THROWS_WITH(reader.boolean("list"),
                    "t.yaml:2:7: gpu.list: expected true or false, got a list");
  CHECK_THROWS_WITH(reader.choice("map", {"a", "b"}),
                    "t.yaml:1:6: gpu.map: expected one of a, b, got a map");
  CHECK_THROWS_WITH(reader.child("scalar"), "t.yaml:3:9: gpu.scalar: expected a map, got '3'");
  CHECK_THROWS_WITH(reader.child("list"), "t.yaml:2:7: gpu.list: expected a map, got a list");
}

TEST_CASE("ConfigReader needs a map", "[config_reader]") {
  ConfigNode list = parse("- a\n- b\n");
  CHECK_THROWS_WITH(ConfigReader(list, "hbm"), "t.yaml:1:1: hbm: expected a map");
  ConfigNode scalar = parse("\n\n  text\n");
  CHECK_THROWS_WITH(ConfigReader(scalar, ""), "t.yaml:3:3: expected a map");
}

TEST_CASE("ConfigReader rejects bad quantities", "[config_reader]") {
  ConfigNode root = parse(
      "name: x\n"
      "hbm:\n"
      "  bandwidth: 3.35 TB\n"
      "  capacity: 80GiBs\n"
      "  count: many\n"
      "  latency: nan us\n");
  ConfigReader hbm = ConfigReader(root, "").child("hbm");
  CHECK_THROWS_WITH(hbm.quantity("bandwidth", Dimension::kBandwidth),
                    "t.yaml:3:14: hbm.bandwidth: expected a bandwidth like '3.35 TB/s', got "
                    "'3.35 TB'");
  CHECK_THROWS_WITH(hbm.quantity("capacity", Dimension::kBytes),
                    "t.yaml:4:13: hbm.capacity: expected a size like '80 GiB', got '80GiBs'");
  CHECK_THROWS_WITH(hbm.quantity("count", Dimension::kCount),
                    "t.yaml:5:10: hbm.count: expected a number like '132', got 'many'");
  CHECK_THROWS_WITH(hbm.quantity("latency", Dimension::kDuration),
                    "t.yaml:6:12: hbm.latency: expected a duration like '4 us', got 'nan us'");
  CHECK_THROWS_WITH(hbm.quantity("bandwidth", Dimension::kFlopRate),
                    "t.yaml:3:14: hbm.bandwidth: expected a compute rate like '989 TFLOPS', got "
                    "'3.35 TB'");
  CHECK_THROWS_WITH(hbm.quantity("bandwidth", Dimension::kFrequency),
                    "t.yaml:3:14: hbm.bandwidth: expected a frequency like '1.755 GHz', got "
                    "'3.35 TB'");
}

TEST_CASE("ConfigReader enforces ranges of quantities", "[config_reader]") {
  ConfigNode root = parse(
      "zero: 0 GB/s\n"
      "negative: -1 us\n"
      "big: 1.5\n"
      "none: 0\n"
      "one: 1\n");
  ConfigReader reader(root, "");
  CHECK_THROWS_WITH(reader.quantity("zero", Dimension::kBandwidth),
                    "t.yaml:1:7: zero: must be greater than 0, got '0 GB/s'");
  CHECK(reader.quantity("zero", Dimension::kBandwidth, Range::kNonNegative) == 0);
  CHECK_THROWS_WITH(reader.quantity("negative", Dimension::kDuration, Range::kNonNegative),
                    "t.yaml:2:11: negative: must not be negative, got '-1 us'");
  CHECK(reader.quantity("negative", Dimension::kDuration, Range::kAny) ==
        Approx(-1e-6).epsilon(1e-15));
  CHECK_THROWS_WITH(reader.quantity("big", Dimension::kCount, Range::kFraction),
                    "t.yaml:3:6: big: must be a fraction in (0, 1], got '1.5'");
  CHECK_THROWS_WITH(reader.quantity("none", Dimension::kCount, Range::kFraction),
                    "t.yaml:4:7: none: must be a fraction in (0, 1], got '0'");
  CHECK(reader.quantity("one", Dimension::kCount, Range::kFraction) == 1);
}

TEST_CASE("ConfigReader accepts only plain integers", "[config_reader]") {
  ConfigNode root = parse(
      "plus: +5\n"
      "fraction: 5.0\n"
      "exponent: 1e3\n"
      "unit: 5 GB\n"
      "spaced: ' 5'\n"
      "huge: 99999999999999999999\n"
      "minus: '-'\n"
      "zero: 0\n"
      "nine: 9\n"
      "low: -9223372036854775808\n");
  ConfigReader reader(root, "");
  CHECK_THROWS_WITH(reader.integer("plus"), "t.yaml:1:7: plus: expected an integer, got '+5'");
  CHECK_THROWS_WITH(reader.integer("fraction"),
                    "t.yaml:2:11: fraction: expected an integer, got '5.0'");
  CHECK_THROWS_WITH(reader.integer("exponent"),
                    "t.yaml:3:11: exponent: expected an integer, got '1e3'");
  CHECK_THROWS_WITH(reader.integer("unit"), "t.yaml:4:7: unit: expected an integer, got '5 GB'");
  CHECK_THROWS_WITH(reader.integer("spaced"), "t.yaml:5:9: spaced: expected an integer, got ' 5'");
  CHECK_THROWS_WITH(reader.integer("huge"),
                    "t.yaml:6:7: huge: expected an integer, got '99999999999999999999'");
  CHECK_THROWS_WITH(reader.integer("minus"), "t.yaml:7:8: minus: expected an integer, got '-'");
  CHECK_THROWS_WITH(reader.integer("zero"), "t.yaml:8:7: zero: must be at least 1, got '0'");
  CHECK(reader.integer("zero", 0) == 0);
  CHECK_THROWS_WITH(reader.integer("nine", 1, 8),
                    "t.yaml:9:7: nine: must be between 1 and 8, got '9'");
  CHECK(reader.integer("low", INT64_MIN) == INT64_MIN);
}

TEST_CASE("ConfigReader accepts only true/false and listed choices", "[config_reader]") {
  ConfigNode root = parse(
      "yes_word: yes\n"
      "capital: True\n"
      "policy: random\n"
      "name: ''\n");
  ConfigReader reader(root, "cache");
  CHECK_THROWS_WITH(reader.boolean("yes_word"),
                    "t.yaml:1:11: cache.yes_word: expected true or false, got 'yes'");
  CHECK_THROWS_WITH(reader.boolean_or("capital", false),
                    "t.yaml:2:10: cache.capital: expected true or false, got 'True'");
  CHECK_THROWS_WITH(reader.choice("policy", {"fifo", "lru", "lfu"}),
                    "t.yaml:3:9: cache.policy: expected one of fifo, lru, lfu, got 'random'");
  CHECK_THROWS_WITH(reader.string("name"), "t.yaml:4:7: cache.name: must not be empty");
}

TEST_CASE("finish rejects keys nobody read", "[config_reader]") {
  ConfigNode root = parse(
      "name: x\n"
      "hbm:\n"
      "  capacity: 80 GiB\n"
      "  bandwdith: 3.35 TB/s\n"
      "note: 1\n");
  SECTION("nested map, with the keys that were asked for") {
    ConfigReader reader(root, "");
    ConfigReader hbm = reader.child("hbm");
    hbm.quantity("capacity", Dimension::kBytes);
    hbm.quantity_or("bandwidth", Dimension::kBandwidth, 1e12);
    CHECK_THROWS_WITH(hbm.finish(),
                      "t.yaml:4:3: hbm.bandwdith: unknown key (known here: bandwidth, capacity)");
  }
  SECTION("first unknown key in file order") {
    ConfigReader reader(root, "");
    reader.ignore("hbm");
    CHECK_THROWS_WITH(reader.finish(), "t.yaml:1:1: name: unknown key (known here: hbm)");
  }
  SECTION("nothing read at all") {
    ConfigReader reader(root, "");
    CHECK_THROWS_WITH(reader.finish(), "t.yaml:1:1: name: unknown key");
  }
}

TEST_CASE("fail points at the key, or at the map when the key is absent", "[config_reader]") {
  ConfigNode root = parse(
      "top: 1\n"
      "tensor:\n"
      "  bf16: 989 TFLOPS\n");
  ConfigReader tensor = ConfigReader(root, "gpu").child("tensor");
  CHECK_THROWS_WITH(tensor.fail("bf16", "too fast"), "t.yaml:3:9: gpu.tensor.bf16: too fast");
  CHECK_THROWS_WITH(tensor.fail("fp8", "needed"), "t.yaml:3:3: gpu.tensor.fp8: needed");
  CHECK_THROWS_WITH(tensor.fail("", "needs at least one dtype rate"),
                    "t.yaml:3:3: gpu.tensor: needs at least one dtype rate");
  try {
    tensor.fail("bf16", "too fast");
  } catch (const dfsim::InputError& error) {
    CHECK(error.key() == "gpu.tensor.bf16");
    CHECK(error.location().line == 3);
    CHECK(error.location().column == 9);
  }
}

TEST_CASE("errors in overridden values point at the override", "[config_reader]") {
  ConfigNode root = parse("hbm:\n  bandwidth: 3.35 TB/s\n");
  const dfsim::SourceLocation where{"--set hw.hbm.bandwidth=3 TB", 0, 0};
  dfsim::apply_override(root, "hbm.bandwidth", "3 TB", where);
  dfsim::apply_override(root, "hbm.bandwdith", "3 TB/s", where);
  ConfigReader hbm = ConfigReader(root, "").child("hbm");
  CHECK_THROWS_WITH(hbm.quantity("bandwidth", Dimension::kBandwidth),
                    "--set hw.hbm.bandwidth=3 TB: hbm.bandwidth: expected a bandwidth like "
                    "'3.35 TB/s', got '3 TB'");
  CHECK_THROWS_WITH(hbm.finish(),
                    "--set hw.hbm.bandwidth=3 TB: hbm.bandwdith: unknown key (known here: "
                    "bandwidth)");
}
