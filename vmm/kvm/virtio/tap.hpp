#pragma once
// A TAP device for a virtio-net NIC (Linux Documentation/networking/tuntap.rst): every read()
// returns one Ethernet frame and every write() sends one, each preceded by the 12-byte virtio
// 1.x net header (IFF_VNET_HDR with TUNSETVNETHDRSZ 12, so the header has num_buffers). No
// offloads are enabled (TUNSETOFFLOAD 0): the kernel hands us whole, checksummed frames, which
// is what a driver that negotiated no offload features must get (virtio 1.2 §5.1.6.4.1).
//
// The fd is nonblocking and close-on-exec. A TAP that was not made persistent disappears when
// its last fd is closed, so the Tap's lifetime is the device's.
#include <expected>
#include <string>

#include "vmm/kvm/unique_fd.hpp"

namespace berth::vmm::kvm::virtio {

struct Tap {
  UniqueFd fd;
  std::string name;  // the name the kernel gave or confirmed
};

// Creates TAP `name` in the caller's network namespace, or attaches to it if it exists (a
// persistent TAP made by the worker). An empty name lets the kernel choose ("tap0", ...).
std::expected<Tap, std::string> open_tap(const std::string& name);

}  // namespace berth::vmm::kvm::virtio
