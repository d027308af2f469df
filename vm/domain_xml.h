// The twin's libvirt domain definition: direct kernel boot, one virtio disk (a qcow2 overlay),
// the guest-agent channel, no NIC unless asked (user-mode networking, no host-facing address).
#pragma once

#include <string>

#include "vm/accel.h"

namespace twin::vm {

struct DomainSpec {
  std::string name;
  Accel accel = Accel::kTcg;
  int memory_mib = 1024;
  int vcpus = 1;
  std::string kernel;
  std::string initrd;
  std::string cmdline = "root=/dev/vda rw console=ttyS0 quiet loglevel=3 mitigations=off";
  std::string disk;          // active overlay (qcow2)
  std::string console_log;   // serial console to this file ("" = none)
  bool user_net = false;     // user-mode NIC (outbound only, for reaching a package mirror)
  std::string emulator = "/usr/bin/qemu-system-x86_64";
  std::string domain_type_override;  // "test" for the libvirt test driver
};

std::string DomainXml(const DomainSpec& spec);
std::string XmlEscape(const std::string& s);

// Returns the <source file='...'/> of disk target vda in a domain XML, "" if none.
std::string DiskSourceFromXml(const std::string& xml, const std::string& target = "vda");

}  // namespace twin::vm
