#include "vmm/runtime.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace berth::vmm {

namespace {
// Empty when KVM is usable for a Linux guest, otherwise why not.
std::string kvm_unusable() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("/dev/kvm: ") + std::strerror(errno);
  close(fd);
  std::ifstream in("/proc/cpuinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  if (text.find(" vmx") == std::string::npos && text.find(" svm") == std::string::npos)
    return "/dev/kvm exists but the CPU advertises neither vmx nor svm (a software hypervisor "
           "that cannot run a Linux guest)";
  return {};
}
}  // namespace

std::expected<RuntimeChoice, std::string> choose_runtime(const std::string& requested) {
  if (requested == "jail") return RuntimeChoice{"jail", "runtime = jail in the configuration"};
  if (requested == "kvm" || requested == "auto") {
    auto why_not = kvm_unusable();
    if (why_not.empty()) {
      if (requested == "auto")
        return RuntimeChoice{"jail", "auto: KVM is usable, but the kvm runtime is not built yet"};
      return std::unexpected(std::string("the kvm runtime is not built yet; use runtime = jail"));
    }
    if (requested == "kvm") return std::unexpected("runtime = kvm, but " + why_not);
    return RuntimeChoice{"jail", "auto: " + why_not};
  }
  return std::unexpected("unknown runtime '" + requested + "' (expected auto, kvm or jail)");
}

}  // namespace berth::vmm
