#include "vmm/kvm/vm_config.hpp"

namespace berth::vmm::kvm {

std::string_view to_string(ExitReason r) {
  switch (r) {
    case ExitReason::guest_reset:
      return "guest_reset";
    case ExitReason::guest_shutdown:
      return "guest_shutdown";
    case ExitReason::wall_limit:
      return "wall_limit";
    case ExitReason::stopped:
      return "stopped";
    case ExitReason::error:
      return "error";
  }
  return "unknown";
}

}  // namespace berth::vmm::kvm
