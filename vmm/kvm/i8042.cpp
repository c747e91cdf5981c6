#include "vmm/kvm/i8042.hpp"

#include <memory>
#include <utility>

namespace berth::vmm::kvm {

namespace {

constexpr uint8_t kStatusObf = 0x01;     // output buffer full: a byte waits at 0x60
constexpr uint8_t kStatusSys = 0x04;     // system flag: self-test passed
constexpr uint8_t kStatusCmd = 0x08;     // last write went to 0x64
constexpr uint8_t kStatusUnlock = 0x10;  // keyboard not inhibited
constexpr uint8_t kCtrKbdInt = 0x01;
constexpr size_t kOutMax = 16;

class Port : public BusDevice {
 public:
  Port(I8042* c, bool command) : c_(c), command_(command) {}
  void read(uint64_t offset, std::span<uint8_t> data) override {
    for (auto& b : data) b = 0xff;
    if (offset != 0 || data.empty()) return;
    data[0] = command_ ? c_->read_status() : c_->read_data();
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    if (offset != 0 || data.empty()) return;
    if (command_)
      c_->write_command(data[0]);
    else
      c_->write_data(data[0]);
  }

 private:
  I8042* c_;
  bool command_;
};

}  // namespace

I8042::I8042(std::function<void()> on_reset, std::function<void()> raise_kbd_irq)
    : on_reset_(std::move(on_reset)), raise_kbd_irq_(std::move(raise_kbd_irq)) {}

std::shared_ptr<BusDevice> I8042::data_port() {
  return std::make_shared<Port>(this, false);
}
std::shared_ptr<BusDevice> I8042::command_port() {
  return std::make_shared<Port>(this, true);
}

void I8042::push(uint8_t b) {
  if (out_.size() >= kOutMax) return;
  out_.push_back(b);
  if ((ctr_ & kCtrKbdInt) && raise_kbd_irq_) raise_kbd_irq_();
}

void I8042::reset() {
  // Called with mu_ held; the callback only records the exit and kicks vCPUs (no re-entry).
  if (on_reset_) on_reset_();
}

uint8_t I8042::read_status() {
  std::lock_guard lock(mu_);
  return kStatusSys | kStatusUnlock | (last_was_command_ ? kStatusCmd : 0) |
         (out_.empty() ? 0 : kStatusObf);
}

uint8_t I8042::read_data() {
  std::lock_guard lock(mu_);
  if (out_.empty()) return 0;
  uint8_t b = out_.front();
  out_.pop_front();
  // Hardware presents one byte at a time; the next one interrupts again.
  if (!out_.empty() && (ctr_ & kCtrKbdInt) && raise_kbd_irq_) raise_kbd_irq_();
  return b;
}

void I8042::write_command(uint8_t v) {
  std::lock_guard lock(mu_);
  last_was_command_ = true;
  pending_ = 0;
  switch (v) {
    case 0x20:  // read CTR
      push(ctr_);
      break;
    case 0x60:  // write CTR: next data byte
    case 0xd1:  // write output port
    case 0xd2:  // write keyboard output buffer
    case 0xd3:  // write aux output buffer (loopback)
    case 0xd4:  // write to aux device: no mouse, the byte is dropped
      pending_ = v;
      break;
    case 0xa9:  // aux interface test: 0 = ok
    case 0xab:  // keyboard interface test: 0 = ok
      push(0x00);
      break;
    case 0xaa:  // controller self-test
      push(0x55);
      break;
    case 0xa7:  // disable aux
      ctr_ |= 0x20;
      break;
    case 0xa8:  // enable aux
      ctr_ &= ~0x20;
      break;
    case 0xad:  // disable keyboard
      ctr_ |= 0x10;
      break;
    case 0xae:  // enable keyboard
      ctr_ &= ~0x10;
      break;
    case 0xd0:  // read output port
      push(outp_);
      break;
    default:
      // 0xF0-0xFF: pulse output lines low for 6 us; bit 0 clear pulses the CPU reset line.
      // 0xFE is the one Linux (`reboot=k`) sends.
      if (v >= 0xf0 && !(v & 0x01)) reset();
      break;
  }
}

void I8042::write_data(uint8_t v) {
  std::lock_guard lock(mu_);
  last_was_command_ = false;
  uint8_t cmd = std::exchange(pending_, 0);
  switch (cmd) {
    case 0x60:
      ctr_ = v;
      return;
    case 0xd1:
      outp_ = v;
      if (!(v & 0x01)) reset();  // output port bit 0 is the CPU reset line, active low
      return;
    case 0xd2:
    case 0xd3:
      push(v);
      return;
    case 0xd4:
      return;
    default:
      break;
  }
  // A byte for the keyboard itself. Answer like a PS/2 keyboard would, without any keys.
  switch (v) {
    case 0xff:  // reset: ACK, then basic assurance test passed
      push(0xfa);
      push(0xaa);
      break;
    case 0xf2:  // identify: ACK, MF2 keyboard
      push(0xfa);
      push(0xab);
      push(0x83);
      break;
    case 0xee:  // echo
      push(0xee);
      break;
    default:
      push(0xfa);
      break;
  }
}

}  // namespace berth::vmm::kvm
