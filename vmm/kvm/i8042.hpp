#pragma once
// Just enough of an i8042 keyboard controller for Linux to find it quickly and to reboot through
// it: `reboot=k` (and the kernel's default reboot fallback) writes command 0xFE, "pulse the
// reset line", to port 0x64, which ends the VM as a guest reset. Firecracker's i8042 takes the
// same approach ("emulates just enough to shutdown the machine").
//
// Implemented: status register; controller commands read/write CTR (0x20/0x60), self-tests
// (0xAA -> 0x55, 0xAB/0xA9 -> 0x00), enable/disable ports, read/write output port (0xD0/0xD1,
// where clearing bit 0 resets), aux loopback (0xD3), pulse output lines (0xF0-0xFF, bit 0 low =
// reset). Keyboard bytes on port 0x60 are acknowledged (0xFA; reset answers 0xFA 0xAA, get-ID
// 0xFA 0xAB 0x83). No keys are ever typed, there is no mouse. Each byte put in the output buffer
// raises IRQ 1 when the guest enabled the keyboard interrupt in the CTR.
//
// Thread-safety: vCPU threads only; one mutex.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "vmm/kvm/bus_device.hpp"

namespace berth::vmm::kvm {

inline constexpr uint16_t kI8042DataPort = 0x60;
inline constexpr uint16_t kI8042CommandPort = 0x64;

// Registered twice: at 0x60 (length 1, offset 0 = data) and at 0x64 (length 1, offset 0 =
// command/status). The two views share one controller; see I8042::data_port()/command_port().
class I8042 {
 public:
  I8042(std::function<void()> on_reset, std::function<void()> raise_kbd_irq);

  uint8_t read_data();
  void write_data(uint8_t v);
  uint8_t read_status();
  void write_command(uint8_t v);

  // BusDevice adapters for the two ports.
  std::shared_ptr<BusDevice> data_port();
  std::shared_ptr<BusDevice> command_port();

 private:
  void push(uint8_t b);
  void reset();

  std::mutex mu_;
  std::function<void()> on_reset_;
  std::function<void()> raise_kbd_irq_;
  std::deque<uint8_t> out_;
  uint8_t ctr_ = 0x47;   // kbd interrupt on, system flag, translation (the BIOS leaves this)
  uint8_t outp_ = 0x03;  // output port: bit 0 = not in reset, bit 1 = A20 on
  uint8_t pending_ = 0;  // controller command awaiting its data byte (0x60, 0xD1, ...)
  bool last_was_command_ = false;
};

}  // namespace berth::vmm::kvm
