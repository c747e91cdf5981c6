#pragma once
// Every fd the monitor opens (/dev/kvm, the VM, vCPUs, eventfds, epoll, timerfd) lives in one
// of these, so no exit path of a VM can leak one.
#include "base/unique_fd.hpp"

namespace berth::vmm::kvm {
using UniqueFd = berth::UniqueFd;
}  // namespace berth::vmm::kvm
