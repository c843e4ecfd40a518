// Physical quantities as they appear in configs: "3.35 TB/s", "989 TFLOPS", "80 GiB", "1.755 GHz",
// "4 us", "700 W", "3.97 pJ/bit". Values are held as doubles in SI base units (bytes, bytes/s,
// FLOP/s, Hz, seconds). SI prefixes (k, M, G, T, P) are powers of 1000 and binary prefixes (Ki, Mi,
// Gi, Ti, Pi) powers of 1024; they are never mixed up.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dfsim {

enum class Dimension {
  kBytes,          // "80 GiB", "50 MiB", "520 MB", "64 B"
  kBandwidth,      // "3.35 TB/s", "900 GB/s", "200 GiB/s"
  kFlopRate,       // "989 TFLOPS", "19.5 TFLOP/s", "2 POPS" (integer ops count as FLOPs)
  kFrequency,      // "1.755 GHz", "800 MHz"
  kDuration,       // "4 us", "1.3 us", "500 ns", "2 ms", "1 s"
  kCount,          // a plain non-negative number, no unit: "132", "0.92"
  kPower,          // "700 W", "0.4 kW"
  kEnergyPerByte,  // "31.8 pJ/B", "3.97 pJ/bit" (= 31.76 pJ/B)
};

std::string_view dimension_name(Dimension dimension);
// An example of a valid value, used in error messages ("expected a bandwidth like '3.35 TB/s'").
std::string_view dimension_example(Dimension dimension);

// Parses text strictly: a finite decimal number, optional spaces, then a unit of the dimension.
// Returns nullopt (never a partial value) for anything else: "12abc", "3.35 TB", "nan", "".
// Negative and zero values are accepted here; whether they are allowed is the caller's rule.
std::optional<double> parse_quantity(std::string_view text, Dimension dimension);

// Formats a value with a fitting SI prefix and unit, e.g. format_quantity(3.35e12, kBandwidth)
// == "3.35 TB/s". Used in reports and `dfsim list`.
std::string format_quantity(double value, Dimension dimension, int significant_digits = 4);

}  // namespace dfsim
