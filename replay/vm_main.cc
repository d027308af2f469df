// twin-replay-vm: `twin-replay vm ...` in a binary of its own. twin-replay execs it for the vm
// subcommand, so that its other commands do not load libvirt and the ~40 libraries it pulls in
// (~14 ms of dynamic linking and initialisation per run, docs/BENCHMARKS.md).
#include "replay/vm_cmd.h"

int main(int argc, char** argv) { return twin::RunVmCommand(argc, argv); }
