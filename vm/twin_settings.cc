#include "vm/twin_settings.h"

#include <cstdlib>
#include <regex>

#include "format/terminal.h"

namespace twin::vm {

bool ValidDomainName(const std::string& name) {
  static const std::regex re("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$");
  return std::regex_match(name, re);
}


Status CheckAccelName(const std::string& key, const std::string& value) {
  if (value == "auto" || value == "kvm" || value == "tcg") return Status::Ok();
  return Status::InvalidArgument(key + ": '" + LogEscape(value) + "' is not one of auto, kvm, tcg");
}

Status ApplyTwinEnvironment(TwinSettings* s) {
  if (const char* a = std::getenv("SAFETYTWIN_TWIN_ACCEL"); a && *a) {
    if (Status c = CheckAccelName("SAFETYTWIN_TWIN_ACCEL", a); !c.ok()) return c;
    // The variable overrides the automatic choice only, as it always did; a configured kvm or
    // tcg stays.
    if (s->accel == "auto") s->accel = a;
  }
  if (const char* d = std::getenv("SAFETYTWIN_ANSIBLE_DIR"); d && *d) {
    if (*d != '/') {
      return Status::InvalidArgument("SAFETYTWIN_ANSIBLE_DIR: '" + LogEscape(d) + "' is not an absolute path");
    }
    s->ansible_dir = d;
  }
  return Status::Ok();
}

}  // namespace twin::vm
