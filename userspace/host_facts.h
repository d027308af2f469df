// The host's facts (name, kernel, OS, machine and boot ids, CPUs, memory, disks) as they are now.
#pragma once

#include "eventlog/state.h"

namespace twin::capture {

HostFacts CollectHostFacts();

}  // namespace twin::capture
