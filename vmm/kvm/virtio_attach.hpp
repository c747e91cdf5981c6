#pragma once
// Adapts a virtio-mmio transport (vmm/kvm/virtio/, written separately) to the VirtioFactory the
// Vm takes, without this directory depending on that one's headers. Any type works that is a
// BusDevice and has
//     void queue_notify(uint16_t queue);
//     uint16_t num_queues() const;
//     std::vector<W> watched_fds();   // W has `int fd` and `std::function<void()> on_readable`
// — the interface agreed for berth::vmm::kvm::virtio::MmioTransport.
//
//   cfg.virtio_devices.push_back(attach_virtio([&](const GuestMemory& mem, int irq_fd) {
//     return std::make_shared<virtio::MmioTransport>(mem, std::move(net), irq_fd);
//   }));   // or a std::expected<std::shared_ptr<...>/std::unique_ptr<...>, std::string>
#include <memory>
#include <type_traits>
#include <utility>

#include "vmm/kvm/vm_config.hpp"

namespace berth::vmm::kvm {

namespace detail {
template <class T>
struct is_expected : std::false_type {};
template <class T, class E>
struct is_expected<std::expected<T, E>> : std::true_type {};
}  // namespace detail

template <class Make>
VirtioFactory attach_virtio(Make make) {
  return [make = std::move(make)](const GuestMemory& mem,
                                  int irq_fd) -> std::expected<VirtioDeviceHandle, std::string> {
    auto made = make(mem, irq_fd);
    auto wrap = [](auto transport) -> std::expected<VirtioDeviceHandle, std::string> {
      if (!transport) return std::unexpected("virtio device factory returned nothing");
      VirtioDeviceHandle h;
      h.num_queues = transport->num_queues();
      for (auto& w : transport->watched_fds()) h.watched_fds.push_back({w.fd, w.on_readable});
      h.queue_notify = [t = transport](uint16_t q) { t->queue_notify(q); };
      h.mmio = std::shared_ptr<BusDevice>(std::move(transport));
      return h;
    };
    if constexpr (detail::is_expected<decltype(made)>::value) {
      if (!made) return std::unexpected(std::string(made.error()));
      return wrap(std::shared_ptr(std::move(*made)));
    } else {
      return wrap(std::shared_ptr(std::move(made)));
    }
  };
}

}  // namespace berth::vmm::kvm
