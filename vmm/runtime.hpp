#pragma once
// Which runtime a worker uses (DESIGN.md §3): kvm where /dev/kvm works and the CPU advertises
// vmx or svm, jail otherwise; `auto` picks and says why.
#include <expected>
#include <string>

namespace berth::vmm {

struct RuntimeChoice {
  std::string name;    // "jail" or "kvm"
  std::string reason;  // logged at start-up and shown in /healthz
};

// `requested` is "auto", "jail" or "kvm".
std::expected<RuntimeChoice, std::string> choose_runtime(const std::string& requested);

}  // namespace berth::vmm
