// Editing one value of a YAML config as text, so everything else in the file (comments, order,
// blank lines, the source notes every hardware number carries) stays as it was. Used by
// `dfsim calibrate --write` to put fitted values and their FITTED notes into a config.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dfsim {

// Sets `dotted_key` (below the document root: "kernel_call.host_sync") to `value` in the YAML
// `text` and puts `comment` (lines without '#', written as "# <line>" at the key's indentation)
// directly above the key. A key already in the file has its value replaced, and a note above it
// that starts with "# FITTED" is replaced with the new one (down to the key); a key that is not
// in the file is added at the end of its map (the maps it needs are added too, at the end of the
// file). Only block-style maps can be edited: a flow map or a multi-line value is an InputError
// naming `source_name`:line:column, as is a key below a value that is not a map.
std::string set_yaml_value(const std::string& text, const std::string& source_name,
                           std::string_view dotted_key, const std::string& value,
                           const std::vector<std::string>& comment);

}  // namespace dfsim
