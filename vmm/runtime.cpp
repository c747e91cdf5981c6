#include "vmm/runtime.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth::vmm {

namespace {
// Whether any "flags" line of cpuinfo has the word `flag`.
bool has_cpu_flag(const std::string& cpuinfo, std::string_view flag) {
  std::istringstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("flags")) continue;
    std::istringstream words(
        line.substr(line.find(':') == std::string::npos ? 0 : line.find(':') + 1));
    std::string w;
    while (words >> w)
      if (w == flag) return true;
  }
  return false;
}
}  // namespace

std::string kvm_unusable(const char* dev, const char* cpuinfo) {
  int fd = open(dev, O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string(dev) + ": " + std::strerror(errno);
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  int err = errno;
  close(fd);
  if (version < 0) return std::string(dev) + ": KVM_GET_API_VERSION: " + std::strerror(err);
  if (version != KVM_API_VERSION)
    return std::string(dev) + ": KVM API version " + std::to_string(version) + ", expected " +
           std::to_string(KVM_API_VERSION);
  std::ifstream in(cpuinfo);
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  if (!has_cpu_flag(text, "vmx") && !has_cpu_flag(text, "svm"))
    return std::string(dev) +
           " works but the CPU advertises neither vmx nor svm (a software hypervisor such as "
           "kvm_pvm, which cannot boot a Linux guest)";
  return {};
}

std::expected<RuntimeChoice, std::string> choose_runtime(const std::string& requested,
                                                         const std::string& kernel) {
  if (requested == "jail") return RuntimeChoice{"jail", "runtime = jail in the configuration"};
  if (requested != "kvm" && requested != "auto")
    return std::unexpected("unknown runtime '" + requested + "' (expected auto, kvm or jail)");
  std::string why_not = kvm_unusable();
  if (why_not.empty()) {
    std::error_code ec;
    if (kernel.empty())
      why_not = "KVM is usable, but no guest kernel is configured (--kernel, BERTH_WORKER_KERNEL)";
    else if (!std::filesystem::is_regular_file(kernel, ec))
      why_not = "KVM is usable, but the guest kernel " + kernel + " is not a file";
  }
  if (why_not.empty())
    return RuntimeChoice{"kvm", (requested == "auto" ? "auto: " : "runtime = kvm: ") +
                                    std::string("/dev/kvm is hardware-backed (vmx/svm), kernel ") +
                                    kernel};
  if (requested == "kvm") return std::unexpected("runtime = kvm, but " + why_not);
  return RuntimeChoice{"jail", "auto: " + why_not};
}

}  // namespace berth::vmm
