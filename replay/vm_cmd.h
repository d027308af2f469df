// `twin-replay vm ...`: the twin VM at any time, and the snapshot catalogue.
//   twin-replay [--data-dir D] vm --list [--json] [--domain NAME]
//   twin-replay [--data-dir D] vm --at T [--replace] [--domain NAME] [--uri URI] [--json]
// Reads the log read-only (works while twind runs); --at boots a libvirt domain.
#pragma once

namespace twin {

// Takes the whole command line (argv[0] = program); returns the process exit code.
int RunVmCommand(int argc, char** argv);

}  // namespace twin
