// Two jails on one bridge: each reaches the host side, neither reaches the other, because their
// ports are isolated (and only because of that: the control turns isolation off).
#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/jail/jail_fixture.hpp"

namespace berth::vmm::jail::test {
namespace {

using JailIsolation = JailFixture;

// Asks the shell in the jail at `from` to run "echo reached" in the shell of the jail at `to`.
std::string probe(const std::string& from, const std::string& to, uint16_t port) {
  auto out = jail_shell(from, port,
                        "echo 'echo reached' | timeout 5 busybox nc -w 2 " + to + " " +
                            std::to_string(port) + "; echo probe-done");
  return out ? *out : "(shell failed: " + out.error() + ")";
}

TEST_F(JailIsolation, JailsOnOneBridgeCannotReachEachOther) {
  JailMachine a(config(20)), b(config(21));
  auto sa = a.start();
  ASSERT_TRUE(sa) << sa.error();
  auto sb = b.start();
  ASSERT_TRUE(sb) << sb.error();

  // The host reaches both.
  for (int host : {20, 21}) {
    auto out = jail_shell(guest_ip(host), kPort, "echo up");
    ASSERT_TRUE(out) << out.error();
    EXPECT_NE(out->find("up"), std::string::npos);
  }

  auto blocked = probe(guest_ip(20), guest_ip(21), kPort);
  EXPECT_NE(blocked.find("probe-done"), std::string::npos) << blocked;
  EXPECT_EQ(blocked.find("reached"), std::string::npos) << "jail A reached jail B: " << blocked;
  blocked = probe(guest_ip(21), guest_ip(20), kPort);
  EXPECT_EQ(blocked.find("reached"), std::string::npos) << "jail B reached jail A: " << blocked;

  // Control: with A's port no longer isolated, the same probe gets through.
  std::ofstream("/sys/class/net/" + a.host_veth() + "/brport/isolated") << "0";
  auto open = probe(guest_ip(20), guest_ip(21), kPort);
  EXPECT_NE(open.find("reached"), std::string::npos)
      << "the control failed, so the probe proves nothing: " << open;
}

}  // namespace
}  // namespace berth::vmm::jail::test
