// 16550 register semantics and the console ring (vmm/kvm/serial.cpp, console_ring.cpp).
#include <gtest/gtest.h>

#include "vmm/kvm/console_ring.hpp"
#include "vmm/kvm/serial.hpp"

namespace berth::vmm::kvm {
namespace {

struct Uart {
  std::shared_ptr<ConsoleRing> ring = std::make_shared<ConsoleRing>(64);
  std::string sunk;
  int irqs = 0;
  Serial s{ring, [this](std::string_view v) { sunk += v; }, [this] { ++irqs; }};
  uint8_t in(uint8_t reg) {
    uint8_t b = 0;
    s.read(reg, {&b, 1});
    return b;
  }
  void out(uint8_t reg, uint8_t v) { s.write(reg, {&v, 1}); }
};

TEST(Serial, TransmitGoesToSinkAndRing) {
  Uart u;
  for (char c : std::string("hi\n")) u.out(0, static_cast<uint8_t>(c));
  EXPECT_EQ(u.sunk, "hi\n");
  EXPECT_EQ(u.ring->tail(), "hi\n");
  EXPECT_EQ(u.in(5) & 0x60, 0x60) << "THRE and TEMT always set";
  EXPECT_EQ(u.irqs, 0) << "no interrupts while IER is 0";
}

TEST(Serial, ThreInterruptSemantics) {
  Uart u;
  EXPECT_EQ(u.in(2) & 0x0f, 0x01) << "nothing pending";
  u.out(1, 0x02);  // IER.THRI while empty: interrupt at once
  EXPECT_EQ(u.irqs, 1);
  EXPECT_EQ(u.in(2) & 0x0f, 0x02);
  EXPECT_EQ(u.in(2) & 0x0f, 0x01) << "reading IIR cleared THRE";
  u.out(0, 'x');
  EXPECT_EQ(u.irqs, 2) << "a transmitted byte empties THR again";
  EXPECT_EQ(u.in(2) & 0x0f, 0x02);
}

TEST(Serial, FifoAndScratchAndDivisor) {
  Uart u;
  u.out(2, 0x01);  // FCR: enable FIFOs
  EXPECT_EQ(u.in(2) & 0xc0, 0xc0) << "a 16550A";
  u.out(7, 0x5a);
  EXPECT_EQ(u.in(7), 0x5a);
  u.out(3, 0x80);  // DLAB
  u.out(0, 0x01);
  u.out(1, 0x00);
  EXPECT_EQ(u.in(0), 0x01);
  EXPECT_EQ(u.in(1), 0x00);
  u.out(3, 0x03);  // 8N1, DLAB off
  EXPECT_EQ(u.in(3), 0x03);
  EXPECT_EQ(u.sunk, "") << "divisor writes are not output";
}

TEST(Serial, LoopbackAsThe8250ProbeExpects) {
  Uart u;
  u.out(4, 0x1a);  // LOOP | OUT2 | RTS
  EXPECT_EQ(u.in(6) & 0xf0, 0x90);
  u.out(0, 'q');
  EXPECT_EQ(u.sunk, "") << "loopback bytes do not leave";
  EXPECT_TRUE(u.in(5) & 0x01);
  EXPECT_EQ(u.in(0), 'q');
  u.out(4, 0x0b);
  EXPECT_EQ(u.in(6), 0xb0);
}

TEST(Serial, ReceiveWithInterrupt) {
  Uart u;
  u.out(1, 0x01);  // RDI
  u.s.push_input("ab");
  EXPECT_EQ(u.irqs, 1);
  EXPECT_EQ(u.in(2) & 0x0f, 0x04);
  EXPECT_EQ(u.in(0), 'a');
  EXPECT_EQ(u.in(0), 'b');
  EXPECT_FALSE(u.in(5) & 0x01);
  EXPECT_EQ(u.in(2) & 0x0f, 0x01);
}

TEST(Serial, OddAccessesAreHarmless) {
  Uart u;
  uint8_t wide[4] = {1, 2, 3, 4};
  u.s.write(0, {wide, 4});  // a dword write sends its first byte
  u.s.read(5, {wide, 4});
  EXPECT_EQ(wide[1], 0);
  u.s.write(100, {wide, 1});
  uint8_t b;
  u.s.read(100, {&b, 1});
  EXPECT_EQ(b, 0xff);
}

TEST(ConsoleRing, KeepsTheLastBytes) {
  ConsoleRing r(8);
  r.append("hello");
  EXPECT_EQ(r.tail(), "hello");
  r.append(" world!");
  EXPECT_EQ(r.tail(), "o world!");
  EXPECT_EQ(r.total(), 12u);
  std::string big(100000, 'z');
  r.append(big);
  EXPECT_EQ(r.tail(), std::string(8, 'z'));
}

}  // namespace
}  // namespace berth::vmm::kvm
