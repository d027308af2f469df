#include "vm/accel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace twin::vm {

const char* AccelName(Accel a) { return a == Accel::kKvm ? "kvm" : "tcg"; }

AccelChoice DetectAccel(const std::string& override_mode, const std::string& sys_root) {
  const std::string& mode = override_mode;
  if (mode == "kvm") return {Accel::kKvm, "forced by configuration"};
  if (mode == "tcg") return {Accel::kTcg, "forced by configuration"};
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string kvm_dev = sys_root + "/dev/kvm";
  int fd = open(kvm_dev.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return {Accel::kTcg, "/dev/kvm is missing or not usable"};
  close(fd);
  if (fs::exists(sys_root + "/sys/module/kvm_pvm", ec)) {
    return {Accel::kTcg,
            "KVM is PVM (kvm_pvm loaded): standard kernels hang under it, using TCG"};
  }
  if (fs::exists(sys_root + "/sys/module/kvm_intel", ec) ||
      fs::exists(sys_root + "/sys/module/kvm_amd", ec)) {
    return {Accel::kKvm, "hardware KVM (kvm_intel/kvm_amd) available"};
  }
  return {Accel::kTcg, "/dev/kvm present but no hardware KVM module: using TCG"};
}

}  // namespace twin::vm
