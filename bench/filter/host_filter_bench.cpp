// host_filter_bench [ROUNDS]: what the worker's packet filter adds to each job, in one run on a
// throwaway bridge: the admission before a machine's port exists and the eviction after it is
// gone (two libnftables transactions per job), beside the veth pair that port is — the jail's
// own per-job network setup, the baseline the filter's cost is compared with.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "vmm/net/bridge.hpp"
#include "vmm/net/host_filter.hpp"
#include "vmm/net/veth.hpp"

namespace net = berth::vmm::net;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void print(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  std::printf("%-34s p50 %7.3f ms  p95 %7.3f ms  max %7.3f ms\n", what, at(0.5), at(0.95),
              v.back());
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  const std::string bridge = "bfb" + std::to_string(getpid() % 100000);
  auto subnet = *net::Cidr::parse("10.213.251.0/24");
  if (auto ok = net::ensure_bridge(bridge, "10.213.251.1", 24); !ok) {
    std::fprintf(stderr, "bridge: %s\n", ok.error().c_str());
    return 1;
  }
  auto filter = net::HostFilter::install({bridge, subnet, false, net::default_denied_ranges()});
  if (!filter) {
    std::fprintf(stderr, "%s\n", filter.error().c_str());
    (void)net::delete_link(bridge);
    return 1;
  }
  std::vector<double> admit, evict, veth_make, veth_delete;
  for (int i = 0; i < rounds; ++i) {
    auto ip = *subnet.host(2 + i % 200);
    std::string port = "bfp" + std::to_string(i);
    auto t0 = Clock::now();
    auto a = (*filter)->admit(port, net::machine_mac(ip), ip, false);
    auto t1 = Clock::now();
    if (!a) {
      std::fprintf(stderr, "admit: %s\n", a.error().c_str());
      break;
    }
    // The baseline: a veth pair on the bridge, as a jail gets (its peer in our namespace here).
    auto t2 = Clock::now();
    auto made = net::create_jail_veth({port, bridge, getpid(), "bfq" + std::to_string(i)});
    auto t3 = Clock::now();
    if (made) (void)net::delete_link(port);
    auto t4 = Clock::now();
    a->end();
    auto t5 = Clock::now();
    admit.push_back(ms(t1 - t0));
    evict.push_back(ms(t5 - t4));
    if (made) {
      veth_make.push_back(ms(t3 - t2));
      veth_delete.push_back(ms(t4 - t3));
    }
  }
  std::printf("host_filter_bench: %d rounds on bridge %s\n", rounds, bridge.c_str());
  print("filter: admit a port", admit);
  print("filter: evict it", evict);
  if (!veth_make.empty()) {
    print("baseline: create the veth pair", veth_make);
    print("baseline: delete it", veth_delete);
  }
  (void)(*filter)->remove();
  (void)net::delete_link(bridge);
  return 0;
}
