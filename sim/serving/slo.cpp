#include "sim/serving/slo.h"

#include "sim/common/error.h"
#include "sim/common/units.h"

namespace dfsim {

Slo parse_slo(std::string_view text, const std::string& option) {
  Slo slo;
  if (text.empty()) {
    throw InputError(SourceLocation{option, 1, 1}, "", "empty; expected e.g. ttft=200ms,tpot=50ms");
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? text.size() : comma;
    const std::string_view item = text.substr(start, end - start);
    const SourceLocation where{option, 1, static_cast<int>(start + 1)};
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      throw InputError(
          where, "",
          "expected key=duration (keys ttft, tpot, e2e), got '" + std::string(item) + "'");
    }
    const std::string key(item.substr(0, equals));
    const std::string_view value = item.substr(equals + 1);
    std::optional<double>* slot = key == "ttft"   ? &slo.ttft_s
                                  : key == "tpot" ? &slo.tpot_s
                                  : key == "e2e"  ? &slo.e2e_s
                                                  : nullptr;
    if (slot == nullptr) throw InputError(where, key, "unknown SLO (expected ttft, tpot or e2e)");
    if (slot->has_value()) throw InputError(where, key, "given twice");
    const std::optional<double> seconds = parse_quantity(value, Dimension::kDuration);
    if (!seconds || !(*seconds > 0)) {
      throw InputError(
          SourceLocation{option, 1, static_cast<int>(start + equals + 2)}, key,
          "expected a positive duration like '200ms', got '" + std::string(value) + "'");
    }
    *slot = *seconds;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return slo;
}

std::string format_slo(const Slo& slo) {
  std::string text;
  auto add = [&](const char* key, const std::optional<double>& value) {
    if (!value) return;
    if (!text.empty()) text += ',';
    text += std::string(key) + "=" + format_quantity(*value, Dimension::kDuration);
  };
  add("ttft", slo.ttft_s);
  add("tpot", slo.tpot_s);
  add("e2e", slo.e2e_s);
  return text;
}

}  // namespace dfsim
