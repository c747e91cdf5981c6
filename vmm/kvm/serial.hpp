#pragma once
// A 16550A UART, enough of it for Linux's 8250 driver as a console: THR/RBR, IER, IIR/FCR, LCR,
// MCR (with loopback, which the driver's probe tests), LSR, MSR, SCR and the divisor latch.
// Register semantics follow the TI/National PC16550D data sheet, "Register Description".
//
// Transmission is instant: the transmitter is always empty (LSR.THRE|TEMT), every byte written to
// THR goes to the console at once. Output goes to an optional sink (the CLI's terminal) and into
// a ConsoleRing the owner reads after the VM ends.
//
// Interrupts: the ISA serial IRQ is edge-triggered in the MP table, so the device calls
// `raise_irq` (an irqfd: KVM pulses the line) each time an interrupt condition arises — THR
// emptied with THRI enabled, THRI enabled while empty, received data with RDI enabled. The guest
// learns the cause from IIR, as on hardware.
//
// Thread-safety: read()/write() from vCPU threads, push_input() from any thread; one mutex.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

#include "vmm/kvm/bus_device.hpp"
#include "vmm/kvm/console_ring.hpp"

namespace berth::vmm::kvm {

inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint16_t kSerialPorts = 8;

class Serial : public BusDevice {
 public:
  using Sink = std::function<void(std::string_view)>;
  Serial(std::shared_ptr<ConsoleRing> ring, Sink sink, std::function<void()> raise_irq);

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Bytes for the guest to read (keyboard input of the console); dropped past a bound.
  void push_input(std::string_view bytes);

 private:
  uint8_t read_reg(uint8_t reg);
  void write_reg(uint8_t reg, uint8_t value);
  // Interrupt identification as IIR reports it, without side effects.
  uint8_t pending_iir() const;
  void raise_if_pending();

  std::mutex mu_;
  std::shared_ptr<ConsoleRing> ring_;
  Sink sink_;
  std::function<void()> raise_irq_;
  std::deque<uint8_t> rx_;
  bool thre_pending_ = false;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0x08, scr_ = 0, fcr_ = 0;
  uint8_t dll_ = 0x0c, dlm_ = 0;  // 9600 baud, the reset divisor
};

}  // namespace berth::vmm::kvm
