// i8042 (vmm/kvm/i8042.cpp) and the other reset ports (reset_ports.cpp).
#include <gtest/gtest.h>

#include "vmm/kvm/i8042.hpp"
#include "vmm/kvm/reset_ports.hpp"

namespace berth::vmm::kvm {
namespace {

TEST(I8042, ResetCommandCallsBack) {
  int resets = 0;
  I8042 k([&] { ++resets; }, nullptr);
  EXPECT_EQ(k.read_status() & 0x02, 0) << "input buffer empty: kb_wait() passes";
  k.write_command(0xfe);
  EXPECT_EQ(resets, 1);
  k.write_command(0xfd);  // bit 0 set: not a reset pulse
  EXPECT_EQ(resets, 1);
  k.write_command(0xd1);  // write output port with the reset line low
  k.write_data(0x00);
  EXPECT_EQ(resets, 2);
}

TEST(I8042, ThroughBusPorts) {
  int resets = 0;
  I8042 k([&] { ++resets; }, nullptr);
  auto cmd = k.command_port();
  uint8_t v = 0xfe;
  cmd->write(0, {&v, 1});
  EXPECT_EQ(resets, 1);
}

TEST(I8042, ControllerCommandsLinuxProbes) {
  int irqs = 0;
  I8042 k(nullptr, [&] { ++irqs; });
  k.write_command(0xaa);
  EXPECT_TRUE(k.read_status() & 0x01);
  EXPECT_EQ(k.read_data(), 0x55);
  EXPECT_FALSE(k.read_status() & 0x01);
  k.write_command(0x20);
  uint8_t ctr = k.read_data();
  k.write_command(0x60);
  k.write_data(ctr & ~0x01);  // keyboard interrupt off
  k.write_command(0x20);
  EXPECT_EQ(k.read_data(), ctr & ~0x01);
  int before = irqs;
  k.write_data(0xf2);  // identify: no IRQ with the interrupt off, bytes still queued
  EXPECT_EQ(irqs, before);
  EXPECT_EQ(k.read_data(), 0xfa);
  EXPECT_EQ(k.read_data(), 0xab);
  EXPECT_EQ(k.read_data(), 0x83);
  EXPECT_EQ(k.read_data(), 0x00) << "empty";
}

TEST(ResetPorts, Port92AndCf9) {
  int resets = 0;
  ResetPort p92(ResetPort::Kind::port92, [&] { ++resets; });
  ResetPort cf9(ResetPort::Kind::cf9, [&] { ++resets; });
  uint8_t v = 0x02;
  p92.write(0, {&v, 1});
  cf9.write(0, {&v, 1});  // Linux writes 0x02 first: no reset yet
  EXPECT_EQ(resets, 0);
  v = 0x06;
  cf9.write(0, {&v, 1});
  EXPECT_EQ(resets, 1);
  v = 0x03;
  p92.write(0, {&v, 1});
  EXPECT_EQ(resets, 2);
}

}  // namespace
}  // namespace berth::vmm::kvm
