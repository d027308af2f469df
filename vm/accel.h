// Chooses KVM or TCG for the twin. Detected, not assumed: KVM is used only when /dev/kvm is
// usable and the KVM module is a hardware one (kvm_intel/kvm_amd). A PVM host (kvm_pvm) cannot
// boot a standard distribution kernel (it hangs), so the twin falls back to TCG there.
#pragma once

#include <string>

namespace twin::vm {

enum class Accel { kTcg, kKvm };

struct AccelChoice {
  Accel accel = Accel::kTcg;
  std::string reason;  // one sentence, for logs and the kTwinAction event
};

// override: "auto" (default), "kvm" or "tcg" (TwinSettings::accel; SAFETYTWIN_TWIN_ACCEL sets it).
// sys_root is a prefix for /dev and /sys so tests can fake a machine.
AccelChoice DetectAccel(const std::string& override_mode = "auto",
                        const std::string& sys_root = "");

const char* AccelName(Accel a);  // "tcg" / "kvm"

}  // namespace twin::vm
