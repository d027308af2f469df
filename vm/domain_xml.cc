#include "vm/domain_xml.h"

#include <fmt/format.h>

namespace twin::vm {

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string DomainXml(const DomainSpec& s) {
  std::string type = !s.domain_type_override.empty()        ? s.domain_type_override
                     : s.accel == Accel::kKvm ? "kvm" : "qemu";
  std::string cpu = s.accel == Accel::kKvm ? "<cpu mode='host-passthrough'/>"
                                           : "<cpu mode='maximum' check='none'/>";
  if (type == "test") cpu = "";
  std::string xml = fmt::format(
      "<domain type='{}'>\n"
      "  <name>{}</name>\n"
      "  <description>safetytwin twin VM</description>\n"
      "  <memory unit='MiB'>{}</memory>\n"
      "  <vcpu>{}</vcpu>\n"
      "  <os>\n"
      "    <type arch='x86_64' machine='pc'>hvm</type>\n",
      type, XmlEscape(s.name), s.memory_mib, s.vcpus);
  if (!s.kernel.empty()) {
    xml += fmt::format(
        "    <kernel>{}</kernel>\n    <initrd>{}</initrd>\n    <cmdline>{}</cmdline>\n",
        XmlEscape(s.kernel), XmlEscape(s.initrd), XmlEscape(s.cmdline));
  }
  xml += "  </os>\n  <features><acpi/></features>\n  " + cpu + "\n";
  xml +=
      "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
      "  <on_crash>destroy</on_crash>\n  <devices>\n";
  if (type != "test") xml += fmt::format("    <emulator>{}</emulator>\n", XmlEscape(s.emulator));
  xml += fmt::format(
      "    <disk type='file' device='disk'>\n"
      "      <driver name='qemu' type='qcow2' cache='writeback' discard='unmap'/>\n"
      "      <source file='{}'/>\n"
      "      <target dev='vda' bus='virtio'/>\n"
      "    </disk>\n",
      XmlEscape(s.disk));
  if (type != "test") {
    xml +=
        "    <channel type='unix'>\n"
        "      <target type='virtio' name='org.qemu.guest_agent.0'/>\n"
        "    </channel>\n"
        "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
        "    <memballoon model='none'/>\n"
        "    <controller type='usb' model='none'/>\n";
    if (!s.console_log.empty()) {
      xml += fmt::format(
          "    <serial type='file'><source path='{}'/><target port='0'/></serial>\n",
          XmlEscape(s.console_log));
    } else {
      xml += "    <serial type='pty'><target port='0'/></serial>\n";
    }
    if (s.user_net) {
      xml += "    <interface type='user'><model type='virtio'/></interface>\n";
    }
  }
  xml += "  </devices>\n</domain>\n";
  return xml;
}

std::string DiskSourceFromXml(const std::string& xml, const std::string& target) {
  // Small scan instead of an XML parser: libvirt emits <disk ...> ... <source file='X'/> ...
  // <target dev='vda' .../> ... </disk> with single quotes.
  size_t pos = 0;
  while ((pos = xml.find("<disk", pos)) != std::string::npos) {
    size_t end = xml.find("</disk>", pos);
    if (end == std::string::npos) break;
    std::string block = xml.substr(pos, end - pos);
    pos = end;
    if (block.find("dev='" + target + "'") == std::string::npos) continue;
    // The first <source file=...> in the block is the active layer (backingStore comes later).
    size_t s = block.find("<source file='");
    if (s == std::string::npos) return "";
    s += 14;
    size_t q = block.find('\'', s);
    std::string v = block.substr(s, q - s);
    // Unescape the few entities libvirt may use in paths.
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '&') {
        for (auto [ent, ch] : {std::pair{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'},
                               {"&apos;", '\''}, {"&quot;", '"'}}) {
          std::string e(ent);
          if (v.compare(i, e.size(), e) == 0) {
            out += ch;
            i += e.size() - 1;
            goto next;
          }
        }
      }
      out += v[i];
    next:;
    }
    return out;
  }
  return "";
}

}  // namespace twin::vm
