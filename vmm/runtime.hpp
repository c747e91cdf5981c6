#pragma once
// Which runtime a worker uses (DESIGN.md §3): kvm where /dev/kvm works and the CPU advertises
// vmx or svm (and a guest kernel is configured), jail otherwise; `auto` picks and says why.
#include <expected>
#include <string>

namespace berth::vmm {

struct RuntimeChoice {
  std::string name;    // "jail" or "kvm"
  std::string reason;  // logged at start-up and shown in /healthz
};

// Empty when this host's KVM can run a Linux guest, otherwise why not: /dev/kvm opens,
// KVM_GET_API_VERSION is 12, and /proc/cpuinfo shows vmx or svm (a kvm_pvm software hypervisor
// shows neither and cannot boot an unmodified Linux guest, DESIGN.md §5).
std::string kvm_unusable(const char* dev = "/dev/kvm", const char* cpuinfo = "/proc/cpuinfo");

// `requested` is "auto", "jail" or "kvm"; `kernel` the guest kernel the kvm runtime boots
// (empty: none configured, so auto picks jail and kvm is an error).
std::expected<RuntimeChoice, std::string> choose_runtime(const std::string& requested,
                                                         const std::string& kernel = {});

}  // namespace berth::vmm
