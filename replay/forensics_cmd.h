// twin-replay subcommands implemented in forensics/: export, bundle, verify-bundle, setup-keys,
// and `verify --key K` (the keyed variant of verify). ReplayMain hands over the whole argv.
#pragma once

#include <string>

namespace twin {

// True for the first non-option word that this module handles.
bool IsForensicsCommand(const std::string& word);
int RunForensicsCommand(int argc, char** argv);

}  // namespace twin
