#include <catch2/catch.hpp>

#include <cmath>

#include "sim/common/units.h"

using dfsim::Dimension;
using dfsim::format_quantity;
using dfsim::parse_quantity;

namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kMiB = 1024.0 * 1024;

double parsed(std::string_view text, Dimension dimension) {
  std::optional<double> value = parse_quantity(text, dimension);
  REQUIRE(value.has_value());
  return *value;
}

}  // namespace

TEST_CASE("parse_quantity reads every dimension", "[units]") {
  CHECK(parsed("3.35 TB/s", Dimension::kBandwidth) == Approx(3.35e12).epsilon(1e-15));
  CHECK(parsed("900 GB/s", Dimension::kBandwidth) == 900e9);
  CHECK(parsed("200 GiB/s", Dimension::kBandwidth) == 200 * kGiB);
  CHECK(parsed("80 GiB", Dimension::kBytes) == 80 * kGiB);
  CHECK(parsed("50 MiB", Dimension::kBytes) == 50 * kMiB);
  CHECK(parsed("520 MB", Dimension::kBytes) == 520e6);
  CHECK(parsed("64 B", Dimension::kBytes) == 64);
  CHECK(parsed("4096 bytes", Dimension::kBytes) == 4096);
  CHECK(parsed("989 TFLOPS", Dimension::kFlopRate) == 989e12);
  CHECK(parsed("19.5 TFLOP/s", Dimension::kFlopRate) == Approx(19.5e12).epsilon(1e-15));
  CHECK(parsed("2 POPS", Dimension::kFlopRate) == 2e15);
  CHECK(parsed("1.755 GHz", Dimension::kFrequency) == Approx(1.755e9).epsilon(1e-15));
  CHECK(parsed("800 MHz", Dimension::kFrequency) == 800e6);
  CHECK(parsed("4 us", Dimension::kDuration) == Approx(4e-6).epsilon(1e-15));
  CHECK(parsed("1.3us", Dimension::kDuration) == Approx(1.3e-6).epsilon(1e-15));
  CHECK(parsed("500 ns", Dimension::kDuration) == Approx(500e-9).epsilon(1e-15));
  CHECK(parsed("2 ms", Dimension::kDuration) == Approx(2e-3).epsilon(1e-15));
  CHECK(parsed("1 s", Dimension::kDuration) == 1.0);
  CHECK(parsed("132", Dimension::kCount) == 132);
  CHECK(parsed("0.92", Dimension::kCount) == 0.92);
  CHECK(parsed("1e-5", Dimension::kCount) == 1e-5);
}

TEST_CASE("parse_quantity tolerates spacing and signs but keeps them", "[units]") {
  CHECK(parsed("  2TB/s ", Dimension::kBandwidth) == 2e12);
  CHECK(parsed("-5 GB", Dimension::kBytes) == -5e9);
  CHECK(parsed("0 B", Dimension::kBytes) == 0);
  CHECK(parsed(".5 GHz", Dimension::kFrequency) == 0.5e9);
}

TEST_CASE("SI and binary prefixes are distinct", "[units]") {
  CHECK(parsed("1 GB", Dimension::kBytes) == 1e9);
  CHECK(parsed("1 GiB", Dimension::kBytes) == kGiB);
  CHECK(parsed("1 kB", Dimension::kBytes) == 1000);
  CHECK(parsed("1 KiB", Dimension::kBytes) == 1024);
  CHECK(parsed("1 TB/s", Dimension::kBandwidth) == 1e12);
  CHECK(parsed("1 TiB/s", Dimension::kBandwidth) == 1024.0 * kGiB);
  CHECK(parsed("1 PiB", Dimension::kBytes) == 1024.0 * 1024 * kGiB);
}

TEST_CASE("parse_quantity rejects malformed or mismatched text", "[units]") {
  CHECK_FALSE(parse_quantity("12abc", Dimension::kBytes));
  CHECK_FALSE(parse_quantity("3.35 TB", Dimension::kBandwidth));
  CHECK_FALSE(parse_quantity("80 GiB/s", Dimension::kBytes));
  CHECK_FALSE(parse_quantity("nan", Dimension::kCount));
  CHECK_FALSE(parse_quantity("inf", Dimension::kCount));
  CHECK_FALSE(parse_quantity("nan GB", Dimension::kBytes));
  CHECK_FALSE(parse_quantity("", Dimension::kBytes));
  CHECK_FALSE(parse_quantity("", Dimension::kCount));
  CHECK_FALSE(parse_quantity("1e", Dimension::kCount));
  CHECK_FALSE(parse_quantity("TB/s", Dimension::kBandwidth));
  CHECK_FALSE(parse_quantity("1.2.3 GB", Dimension::kBytes));
  CHECK_FALSE(parse_quantity("132 GB", Dimension::kCount));
  CHECK_FALSE(parse_quantity("4", Dimension::kDuration));
  CHECK_FALSE(parse_quantity("4 ks", Dimension::kDuration));
  CHECK_FALSE(parse_quantity("1e999", Dimension::kCount));
  CHECK_FALSE(parse_quantity("1e308 PB", Dimension::kBytes));
}

TEST_CASE("dimension names and examples parse as their own dimension", "[units]") {
  for (Dimension dimension : {Dimension::kBytes, Dimension::kBandwidth, Dimension::kFlopRate,
                              Dimension::kFrequency, Dimension::kDuration, Dimension::kCount}) {
    CAPTURE(dimension_name(dimension));
    CHECK(parse_quantity(dimension_example(dimension), dimension).has_value());
  }
  CHECK(dfsim::dimension_name(Dimension::kBandwidth) == "bandwidth");
  CHECK(dfsim::dimension_example(Dimension::kBandwidth) == "3.35 TB/s");
}

TEST_CASE("format_quantity picks a prefix and round trips", "[units]") {
  CHECK(format_quantity(3.35e12, Dimension::kBandwidth) == "3.35 TB/s");
  CHECK(format_quantity(989e12, Dimension::kFlopRate) == "989 TFLOPS");
  CHECK(format_quantity(1.755e9, Dimension::kFrequency) == "1.755 GHz");
  CHECK(format_quantity(520e6, Dimension::kBytes) == "520 MB");
  CHECK(format_quantity(4e-6, Dimension::kDuration) == "4 us");
  CHECK(format_quantity(500e-9, Dimension::kDuration) == "500 ns");
  CHECK(format_quantity(2e-3, Dimension::kDuration) == "2 ms");
  CHECK(format_quantity(132, Dimension::kCount) == "132");
  CHECK(format_quantity(64, Dimension::kBytes) == "64 B");

  const std::pair<double, Dimension> values[] = {
      {3.35e12, Dimension::kBandwidth}, {989e12, Dimension::kFlopRate},
      {1.755e9, Dimension::kFrequency}, {520e6, Dimension::kBytes},
      {1.3e-6, Dimension::kDuration},   {0.92, Dimension::kCount}};
  for (const auto& [value, dimension] : values) {
    std::string text = format_quantity(value, dimension);
    CAPTURE(text);
    CHECK(parsed(text, dimension) == Approx(value).epsilon(1e-12));
  }
}
