#include "vmm/kvm/serial.hpp"

namespace berth::vmm::kvm {

namespace {

enum Reg : uint8_t {
  kData = 0,
  kIer = 1,
  kIir = 2,
  kLcr = 3,
  kMcr = 4,
  kLsr = 5,
  kMsr = 6,
  kScr = 7
};

constexpr uint8_t kIerRdi = 0x01;   // received data available
constexpr uint8_t kIerThri = 0x02;  // transmitter holding register empty
constexpr uint8_t kIirNone = 0x01;
constexpr uint8_t kIirThri = 0x02;
constexpr uint8_t kIirRdi = 0x04;
constexpr uint8_t kIirFifo = 0xc0;  // "FIFOs enabled" as a 16550A reports it
constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kLsrDr = 0x01;
constexpr uint8_t kLsrThre = 0x20;
constexpr uint8_t kLsrTemt = 0x40;
constexpr uint8_t kMsrIdle = 0xb0;  // DCD, DSR, CTS asserted: a terminal is attached
constexpr size_t kRxMax = 4096;

}  // namespace

Serial::Serial(std::shared_ptr<ConsoleRing> ring, Sink sink, std::function<void()> raise_irq)
    : ring_(std::move(ring)), sink_(std::move(sink)), raise_irq_(std::move(raise_irq)) {}

void Serial::read(uint64_t offset, std::span<uint8_t> data) {
  if (data.empty()) return;
  std::lock_guard lock(mu_);
  // The UART's registers are bytes; a wider access reads the first and zero-fills the rest.
  data[0] = offset < kSerialPorts ? read_reg(static_cast<uint8_t>(offset)) : 0xff;
  for (size_t i = 1; i < data.size(); ++i) data[i] = 0;
}

void Serial::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty() || offset >= kSerialPorts) return;
  std::lock_guard lock(mu_);
  write_reg(static_cast<uint8_t>(offset), data[0]);
}

void Serial::push_input(std::string_view bytes) {
  std::lock_guard lock(mu_);
  bool was_empty = rx_.empty();
  for (char c : bytes)
    if (rx_.size() < kRxMax) rx_.push_back(static_cast<uint8_t>(c));
  if (was_empty && !rx_.empty() && (ier_ & kIerRdi) && raise_irq_) raise_irq_();
}

uint8_t Serial::pending_iir() const {
  uint8_t fifo = (fcr_ & kFcrEnable) ? kIirFifo : 0;
  if ((ier_ & kIerRdi) && !rx_.empty()) return fifo | kIirRdi;
  if ((ier_ & kIerThri) && thre_pending_) return fifo | kIirThri;
  return fifo | kIirNone;
}

void Serial::raise_if_pending() {
  if (!(pending_iir() & kIirNone) && raise_irq_) raise_irq_();
}

uint8_t Serial::read_reg(uint8_t reg) {
  switch (reg) {
    case kData:
      if (lcr_ & kLcrDlab) return dll_;
      if (rx_.empty()) return 0;
      {
        uint8_t b = rx_.front();
        rx_.pop_front();
        return b;
      }
    case kIer:
      return (lcr_ & kLcrDlab) ? dlm_ : ier_;
    case kIir: {
      uint8_t iir = pending_iir();
      // Reading IIR while it reports THRE clears that interrupt (PC16550D, "IIR").
      if ((iir & 0x0f) == kIirThri) thre_pending_ = false;
      return iir;
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr:
      return kLsrThre | kLsrTemt | (rx_.empty() ? 0 : kLsrDr);
    case kMsr:
      if (mcr_ & kMcrLoop) {
        // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (the 8250 probe checks for 0x90).
        uint8_t m = mcr_;
        return static_cast<uint8_t>(((m & 0x01) << 5) | ((m & 0x02) << 3) | ((m & 0x04) << 4) |
                                    ((m & 0x08) << 4));
      }
      return kMsrIdle;
    case kScr:
      return scr_;
  }
  return 0xff;
}

void Serial::write_reg(uint8_t reg, uint8_t value) {
  switch (reg) {
    case kData:
      if (lcr_ & kLcrDlab) {
        dll_ = value;
        return;
      }
      if (mcr_ & kMcrLoop) {
        if (rx_.size() < kRxMax) rx_.push_back(value);
      } else {
        char c = static_cast<char>(value);
        if (ring_) ring_->append({&c, 1});
        if (sink_) sink_({&c, 1});
      }
      // The byte left at once: THR is empty again, a fresh THRE interrupt.
      thre_pending_ = true;
      raise_if_pending();
      return;
    case kIer:
      if (lcr_ & kLcrDlab) {
        dlm_ = value;
        return;
      }
      ier_ = value & 0x0f;
      // Enabling THRI while the transmitter is empty interrupts at once (the driver relies on it
      // to start transmitting, and its UART_BUG_THRE probe checks for it).
      if (ier_ & kIerThri) thre_pending_ = true;
      raise_if_pending();
      return;
    case kIir:  // FCR
      fcr_ = value;
      if (value & kFcrClearRx) rx_.clear();
      return;
    case kLcr:
      lcr_ = value;
      return;
    case kMcr:
      mcr_ = value & 0x1f;
      return;
    case kScr:
      scr_ = value;
      return;
    default:  // LSR and MSR are read-only
      return;
  }
}

}  // namespace berth::vmm::kvm
