#include "vmm/kvm/virtio/tap.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

namespace berth::vmm::kvm::virtio {

namespace {

// struct virtio_net_hdr_v1 with num_buffers (virtio 1.2 §5.1.6).
constexpr int kVnetHdrSize = 12;

std::unexpected<std::string> sys_error(const std::string& what, const std::string& name) {
  return std::unexpected(what + " for TAP '" + name + "': " + std::strerror(errno));
}

}  // namespace

std::expected<Tap, std::string> open_tap(const std::string& name) {
  if (name.size() >= IFNAMSIZ)
    return std::unexpected("TAP name '" + name + "' is longer than " +
                           std::to_string(IFNAMSIZ - 1) + " bytes");
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return sys_error("open /dev/net/tun", name);

  unsigned features = 0;
  if (ioctl(fd.get(), TUNGETFEATURES, &features) < 0) return sys_error("TUNGETFEATURES", name);
  if (!(features & IFF_VNET_HDR))
    return std::unexpected("this kernel's TUN driver lacks IFF_VNET_HDR, needed for virtio-net");

  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return sys_error("TUNSETIFF", name);
  std::string actual(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));

  int hdr = kVnetHdrSize;
  if (ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr) < 0) return sys_error("TUNSETVNETHDRSZ", actual);
  // No checksum or segmentation offload in either direction: we negotiate none with the guest.
  if (ioctl(fd.get(), TUNSETOFFLOAD, 0u) < 0) return sys_error("TUNSETOFFLOAD", actual);
  return Tap{std::move(fd), std::move(actual)};
}

}  // namespace berth::vmm::kvm::virtio
