#include "sim/config/link_spec.h"

namespace dfsim {

LinkSpec parse_link(ConfigReader reader) {
  LinkSpec link;
  link.bandwidth = reader.quantity("bandwidth", Dimension::kBandwidth);
  link.latency = reader.quantity("latency", Dimension::kDuration, Range::kNonNegative);
  link.ports = static_cast<int>(reader.integer_or("ports", 1, 1, 4096));
  const std::string choice =
      reader.choice_or("collective", {"auto", "ring", "tree", "oneshot"}, "auto");
  link.collective = choice == "ring"      ? CollectiveChoice::kRing
                    : choice == "tree"    ? CollectiveChoice::kTree
                    : choice == "oneshot" ? CollectiveChoice::kOneShot
                                          : CollectiveChoice::kAuto;
  link.max_sockets = static_cast<int>(reader.integer_or("max_sockets", 0, 1, 4096));
  reader.finish();
  return link;
}

}  // namespace dfsim
