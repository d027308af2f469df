// The [fleet] table of twind.toml, for the config readers that already hold the parsed file.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "fleet/options.h"

namespace twin::fleet {

// Unknown keys, wrong types and out-of-range values are errors naming "<path>: fleet.<key>".
Status FleetOptionsFromToml(const toml::table& fleet_table, const std::string& path,
                            FleetOptions* o);

}  // namespace twin::fleet
