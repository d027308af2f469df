// Directories the twin needs, created with explicit modes so that nothing depends on the umask of
// whoever runs the driver (twind daemonized runs with umask 077, a root shell with 022).
#pragma once

#include <string>

#include "eventlog/status.h"

namespace twin::vm {

// A directory the hypervisor (qemu, running as its own user after libvirt's DAC relabelling) must
// traverse to reach the overlays inside it. libvirt relabels image files, never their parent
// directories, so each directory created here gets 0711: others may traverse, not list. Existing
// ancestors are left as they are; one that others cannot traverse is an error naming it.
Status MakeHypervisorDir(const std::string& path);

// A directory only the caller's uid may write (Ansible run bundles, which become root's commands):
// created 0700; refused if it is a symlink, owned by another uid, or group/other-writable, so a
// local user cannot pre-create it and plant files in it.
Status MakePrivateDir(const std::string& path);

}  // namespace twin::vm
