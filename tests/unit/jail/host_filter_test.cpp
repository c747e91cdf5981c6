// The worker's packet filter (vmm/net/host_filter.hpp) around real jails on a real bridge: a
// job reaches no host service, no other machine, nothing over IPv6, cannot answer for an
// address or MAC that is not its lease, and with egress = nat reaches the outside only when
// admitted with egress, masqueraded, and never into a denied range. Every check has a control
// that removes the filter (or the one rule in question) and shows the same probe then succeeds,
// so none of them can pass for another reason.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "tests/support/host_listener.hpp"
#include "tests/support/ports.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/jail/jail_fixture.hpp"
#include "vmm/net/host_filter.hpp"
#include "vmm/net/neighbour.hpp"

namespace berth::vmm::jail::test {
namespace {

using namespace std::chrono_literals;

// What `nft` prints for `command` (e.g. "list tables"), through libnftables like the worker.
std::string nft_output(const std::string& command) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  nft_run_cmd_from_buffer(ctx, command.c_str());
  std::string out = nft_ctx_get_output_buffer(ctx);
  nft_ctx_free(ctx);
  return out;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// "connected", "refused" or "timeout": a TCP connect from the host to ip:port.
std::string host_connect(const std::string& ip, uint16_t port, std::string* got = nullptr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  std::string result = "timeout";
  if (rc == 0 || errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 2500) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      result = err == 0 ? "connected" : err == ECONNREFUSED ? "refused" : std::strerror(err);
    }
  }
  if (result == "connected" && got) {
    pollfd p{fd, POLLIN, 0};
    char buf[256];
    if (poll(&p, 1, 2000) == 1) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) got->assign(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return result;
}

// A host "outside" the worker: a network namespace of the test's own joined to the host by a
// veth (host side `host_ip`, its side `ip`), serving TCP `port` with "peer=<source address>".
class OutsideHost {
 public:
  OutsideHost(const std::string& name, const std::string& host_ip, const std::string& ip,
              uint16_t port)
      : ns_("bo" + name), veth_("bo" + name) {
    auto sh = [](const std::string& cmd) {
      return berth::test::run({"sh", "-c", cmd}, 10s).exit_code;
    };
    sh("ip netns del " + ns_ + " 2>/dev/null");
    ok_ = sh("ip netns add " + ns_) == 0 &&
          sh("ip link add " + veth_ + " type veth peer name eth0 netns " + ns_) == 0 &&
          sh("ip addr add " + host_ip + "/24 dev " + veth_ + " && ip link set " + veth_ + " up") ==
              0 &&
          sh("ip -n " + ns_ + " addr add " + ip + "/24 dev eth0 && ip -n " + ns_ +
             " link set eth0 up && ip -n " + ns_ + " link set lo up && ip -n " + ns_ +
             " route add default via " + host_ip) == 0;
    if (!ok_) return;
    int nsfd = open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    server_ = fork();
    if (server_ == 0) {
      // Only system calls from here: the test process has threads.
      if (setns(nsfd, CLONE_NEWNET) != 0) _exit(1);
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 16) != 0) _exit(1);
      while (true) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        int c = accept(fd, reinterpret_cast<sockaddr*>(&peer), &len);
        if (c < 0) continue;
        char text[64] = "peer=";
        inet_ntop(AF_INET, &peer.sin_addr, text + 5, sizeof text - 6);
        size_t n = std::strlen(text);
        text[n] = '\n';
        (void)!write(c, text, n + 1);
        close(c);
      }
    }
    close(nsfd);
  }
  ~OutsideHost() {
    if (server_ > 0) {
      kill(server_, SIGKILL);
      waitpid(server_, nullptr, 0);
    }
    berth::test::run({"ip", "link", "del", veth_}, 5s);
    berth::test::run({"ip", "netns", "del", ns_}, 5s);
  }
  bool ok() const { return ok_; }

 private:
  std::string ns_, veth_;
  pid_t server_ = -1;
  bool ok_ = false;
};

class HostFilterTest : public JailFixture {
 protected:
  void SetUp() override {
    JailFixture::SetUp();
    if (IsSkipped() || HasFailure()) return;
    std::ifstream("/proc/sys/net/ipv4/ip_forward") >> forwarding_;
    install(false);
  }
  void TearDown() override {
    if (filter_) (void)filter_->remove();
    filter_.reset();
    // Only a test that turned it on puts it back: the suite's tests run in parallel processes.
    if (nat_) std::ofstream("/proc/sys/net/ipv4/ip_forward") << forwarding_ << "\n";
    JailFixture::TearDown();
  }

  void install(bool nat) {
    nat_ = nat_ || nat;
    auto f = net::HostFilter::install({bridge_, network_, nat, net::default_denied_ranges()});
    ASSERT_TRUE(f) << f.error();
    filter_ = std::move(*f);
  }
  MachineConfig filtered(int host, bool egress = false) {
    auto c = config(host);
    c.net.filter = filter_.get();
    c.net.egress = egress;
    return c;
  }
  // Runs `script` in the jail at `host` (its stand-in agent's shell, as root).
  std::string in_jail(int host, const std::string& script) {
    auto out = jail_shell(guest_ip(host), kPort, script);
    return out ? *out : "(no shell: " + out.error() + ")";
  }
  // A TCP probe from the jail at `host`; the output of busybox nc and its status.
  std::string probe(int host, const std::string& target, uint16_t port) {
    return in_jail(host, "timeout 6 busybox nc -w 3 " + target + " " + std::to_string(port) +
                             " </dev/null; echo probe-rc=$?");
  }
  void unfilter() { ASSERT_TRUE(filter_->remove()); }

  std::unique_ptr<net::HostFilter> filter_;
  std::string forwarding_ = "0";
  bool nat_ = false;
};

TEST_F(HostFilterTest, HostServicesOnTheBridgeAddressTimeOut) {
  berth::test::HostListener service;
  uint16_t closed = berth::test::free_port();
  JailMachine a(filtered(20));
  ASSERT_TRUE(a.start());
  std::string gw = network_.host(1)->to_string();

  auto open = probe(20, gw, service.port());
  EXPECT_NE(open.find("probe-rc="), std::string::npos) << open;
  EXPECT_EQ(open.find("host-service"), std::string::npos) << "the jail reached a host service";
  // Silently dropped: a probe of a closed port learns nothing either.
  auto shut = probe(20, gw, closed);
  EXPECT_EQ(shut.find("refused"), std::string::npos) << shut;

  unfilter();
  auto control = probe(20, gw, service.port());
  EXPECT_NE(control.find("host-service"), std::string::npos)
      << "the control failed, so the probe proves nothing: " << control;
  EXPECT_NE(probe(20, gw, closed).find("refused"), std::string::npos);
}

TEST_F(HostFilterTest, HostOpenedSessionsStillWork) {
  JailMachine a(filtered(20));
  ASSERT_TRUE(a.start());
  EXPECT_NE(in_jail(20, "echo session-up").find("session-up"), std::string::npos);
}

TEST_F(HostFilterTest, JailsCannotReachEachOtherEvenWithoutPortIsolation) {
  JailMachine a(filtered(20)), b(filtered(21));
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());
  std::ofstream("/sys/class/net/" + a.host_veth() + "/brport/isolated") << "0";
  std::ofstream("/sys/class/net/" + b.host_veth() + "/brport/isolated") << "0";
  in_jail(21, "(busybox nc -ll -p 7075 -e /bin/echo neighbour) </dev/null >/dev/null 2>&1 &");

  auto blocked = probe(20, guest_ip(21), 7075);
  EXPECT_EQ(blocked.find("neighbour"), std::string::npos) << "jail A reached jail B: " << blocked;

  unfilter();
  in_jail(20, "ip neigh flush dev eth0");  // A's failed ARP for B is cached
  auto control = probe(20, guest_ip(21), 7075);
  EXPECT_NE(control.find("neighbour"), std::string::npos)
      << "the control failed, so the probe proves nothing: " << control;
}

TEST_F(HostFilterTest, NoIpv6BetweenJailsOrToTheHost) {
  // The bridge itself has no IPv6 once the filter is in.
  std::string v6;
  std::ifstream("/proc/sys/net/ipv6/conf/" + bridge_ + "/disable_ipv6") >> v6;
  EXPECT_EQ(v6, "1");

  JailMachine a(filtered(20)), b(filtered(21));
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());
  std::ofstream("/sys/class/net/" + a.host_veth() + "/brport/isolated") << "0";
  std::ofstream("/sys/class/net/" + b.host_veth() + "/brport/isolated") << "0";
  // B's link-local address, once duplicate address detection is done.
  auto addr = in_jail(21,
                      "sleep 2.5; (busybox nc -ll -p 7076 -e /bin/echo v6-reached) </dev/null "
                      ">/dev/null 2>&1 & ip -6 addr show dev eth0 | awk '/inet6/{print $2}' | cut "
                      "-d/ -f1");
  while (!addr.empty() && (addr.back() == '\n' || addr.back() == ' ')) addr.pop_back();
  ASSERT_TRUE(addr.starts_with("fe80:")) << addr;
  in_jail(20, "sleep 2.5");  // A's own DAD

  auto blocked = probe(20, addr + "%eth0", 7076);
  EXPECT_EQ(blocked.find("v6-reached"), std::string::npos)
      << "IPv6 crossed the bridge: " << blocked;

  unfilter();
  auto control = probe(20, addr + "%eth0", 7076);
  EXPECT_NE(control.find("v6-reached"), std::string::npos)
      << "the control failed, so the probe proves nothing: " << control;
}

TEST_F(HostFilterTest, AJailCannotAnswerForAnAddressThatIsNotItsLease) {
  JailMachine a(filtered(20));
  ASSERT_TRUE(a.start());
  // Root in the jail (the stand-in's shell; a guest kernel in a microVM) takes a neighbour's
  // address (.31: a lease no machine holds now) and answers there.
  in_jail(20, "ip addr add " + guest_ip(31) + "/" + std::to_string(network_.prefix()) +
                  " dev eth0; (busybox nc -ll -p 7077 -e /bin/echo spoofed) </dev/null "
                  ">/dev/null 2>&1 &");
  (void)net::forget_neighbour(bridge_, guest_ip(31));
  EXPECT_EQ(host_connect(guest_ip(31), 7077), "timeout");

  unfilter();
  (void)net::forget_neighbour(bridge_, guest_ip(31));
  std::string got;
  EXPECT_EQ(host_connect(guest_ip(31), 7077, &got), "connected")
      << "the control failed, so the probe proves nothing";
  EXPECT_EQ(got, "spoofed\n");
}

TEST_F(HostFilterTest, AJailWithAnotherMacIsCutOff) {
  JailMachine a(filtered(20));
  ASSERT_TRUE(a.start());
  in_jail(20,
          "(busybox nc -ll -p 7078 -e /bin/echo still-here) </dev/null >/dev/null 2>&1 & "
          "ip link set eth0 address 06:b7:de:ad:be:ef");
  (void)net::forget_neighbour(bridge_, guest_ip(20));
  EXPECT_EQ(host_connect(guest_ip(20), 7078), "timeout");

  unfilter();
  (void)net::forget_neighbour(bridge_, guest_ip(20));
  EXPECT_EQ(host_connect(guest_ip(20), 7078), "connected")
      << "the control failed, so the probe proves nothing";
}

TEST_F(HostFilterTest, EgressNatReachesTheOutsideOnlyWhenAdmittedAndNeverADeniedRange) {
  filter_->remove();
  install(true);
  // 198.51.100.0/24 (TEST-NET-2) is outside every denied range; 10.77.0.0/24 is inside 10/8.
  OutsideHost outside("o" + std::to_string(getpid() % 10000), "198.51.100.1", "198.51.100.2", 8080);
  ASSERT_TRUE(outside.ok());
  OutsideHost denied("d" + std::to_string(getpid() % 10000), "10.77.0.1", "10.77.0.2", 8080);
  ASSERT_TRUE(denied.ok());
  berth::test::HostListener service;

  JailMachine a(filtered(20, true)), b(filtered(21, false));
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());
  in_jail(21, "ip route add default via " + network_.host(1)->to_string());  // B tries anyway

  auto out = probe(20, "198.51.100.2", 8080);
  EXPECT_NE(out.find("peer=198.51.100.1"), std::string::npos)
      << "an admitted job should reach the outside, masqueraded: " << out;
  EXPECT_EQ(probe(21, "198.51.100.2", 8080).find("peer="), std::string::npos)
      << "a job without egress reached the outside";
  EXPECT_EQ(probe(20, "10.77.0.2", 8080).find("peer="), std::string::npos)
      << "an admitted job reached a denied range";
  // Egress opens nothing on the host itself.
  EXPECT_EQ(probe(20, "198.51.100.1", service.port()).find("host-service"), std::string::npos);
  EXPECT_EQ(probe(20, network_.host(1)->to_string(), service.port()).find("host-service"),
            std::string::npos);

  // Control for the denied range: without the filter (and a route), the range is reachable.
  unfilter();
  EXPECT_NE(probe(20, "10.77.0.2", 8080).find("peer="), std::string::npos)
      << "the control failed, so the denied-range probe proves nothing";
}

TEST_F(HostFilterTest, ARestartReplacesTheTablesAndRemoveLeavesNone) {
  auto table = net::filter_table_name(bridge_);
  install(false);  // a second start of the same worker
  auto tables = nft_output("list tables");
  EXPECT_EQ(count(tables, "table inet " + table + "\n"), 1u) << tables;
  EXPECT_EQ(count(tables, "table bridge " + table + "\n"), 1u) << tables;
  ASSERT_TRUE(filter_->remove());
  filter_.reset();
  tables = nft_output("list tables");
  EXPECT_EQ(tables.find(table), std::string::npos) << tables;
}

TEST_F(HostFilterTest, AMachinesPinsGoWithIt) {
  auto table = net::filter_table_name(bridge_);
  std::string veth;
  {
    JailMachine a(filtered(20));
    ASSERT_TRUE(a.start());
    veth = a.host_veth();
    auto pins = nft_output("list set bridge " + table + " pins");
    EXPECT_NE(pins.find(veth), std::string::npos) << pins;
    EXPECT_NE(pins.find(guest_ip(20)), std::string::npos) << pins;
  }
  auto pins = nft_output("list set bridge " + table + " pins");
  EXPECT_EQ(pins.find(veth), std::string::npos) << pins;
  EXPECT_EQ(nft_output("list set bridge " + table + " ports").find(veth), std::string::npos);
}

TEST(HostFilterRuleset, DeniesTheSubnetAndOnlyMasqueradesWithNat) {
  net::FilterConfig cfg{
      "berth0", *net::Cidr::parse("10.213.0.0/24"), false, {*net::Cidr::parse("192.168.0.0/16")}};
  auto none = net::filter_ruleset(cfg);
  EXPECT_NE(none.find("192.168.0.0/16, 10.213.0.0/24"), std::string::npos) << none;
  EXPECT_EQ(none.find("masquerade"), std::string::npos);
  EXPECT_EQ(none.find("@egress ip daddr"), std::string::npos);
  cfg.egress_nat = true;
  auto nat = net::filter_ruleset(cfg);
  EXPECT_NE(nat.find("masquerade"), std::string::npos);
  EXPECT_NE(nat.find("ip saddr @egress ip daddr != @denied accept"), std::string::npos);
}

TEST(HostFilterRuleset, RefusesNamesThatCouldEscapeTheRuleText) {
  auto f = net::HostFilter::install({"br\" drop;", *net::Cidr::parse("10.213.0.0/24"), false, {}});
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().find("bridge name"), std::string::npos) << f.error();
}

}  // namespace
}  // namespace berth::vmm::jail::test
