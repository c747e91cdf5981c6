#pragma once
// The worker's packet filter (DESIGN.md §7, "Trust boundaries"): two nftables tables of its own,
// installed at start for its bridge, through libnftables (one transaction, no shell-out):
//
//   inet   berth_<bridge>  host-bound and routed traffic. From a machine to any host address only
//                          packets of connections the host opened pass (the agent session is
//                          host -> guest; conntrack established,related); routed traffic from the
//                          bridge passes only for machines admitted with egress, to destinations
//                          outside the denied ranges, masqueraded out of the host's uplink.
//   bridge berth_<bridge>  layer 2. A frame from a machine's port passes only if it is IPv4 or
//                          ARP with exactly that port's lease (MAC and IPv4 address) as its
//                          source: no spoofing, no IPv6 (so no link-local side door), nothing
//                          else. Nothing is forwarded from one port to another.
//
// Drops are silent: a probe sees a timeout, not a refusal. A restart replaces both tables in
// the same transaction that deletes the old ones, so they are never duplicated; a worker that
// dies leaves them in place, still filtering, until its next start or an explicit remove().
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vmm/net/ipv4.hpp"
#include "vmm/net/mac.hpp"

struct nft_ctx;

namespace berth::vmm::net {

struct FilterConfig {
  std::string bridge;  // the worker's bridge, e.g. "berth0"
  Cidr subnet;         // its machines' network; always denied as an egress destination
  bool egress_nat = false;
  // Destinations a machine with egress may not reach (CIDRs), besides the subnet.
  std::vector<Cidr> denied;
};

// The ranges an operator's egress_deny defaults to: RFC 1918, link-local (cloud metadata among
// it), loopback, this-network, CGNAT, multicast and reserved.
const std::vector<Cidr>& default_denied_ranges();

// "berth_" + the bridge's name with every other character than [A-Za-z0-9] as '_'.
std::string filter_table_name(const std::string& bridge);

// The whole ruleset that install() runs, as nft text: pure, for tests and for the error message.
std::string filter_ruleset(const FilterConfig& cfg);

class HostFilter;

// A machine's admission through the filter; it ends (the port's pins and its egress go) when
// this is destroyed. Taken before the port exists, so no frame ever crosses it unfiltered.
class PortAdmission {
 public:
  PortAdmission() = default;
  PortAdmission(PortAdmission&& o) noexcept { *this = std::move(o); }
  PortAdmission& operator=(PortAdmission&& o) noexcept;
  ~PortAdmission() { end(); }
  void end();

 private:
  friend class HostFilter;
  HostFilter* filter_ = nullptr;
  std::string port_;
  MacAddress mac_{};
  Ipv4 ip_;
  bool egress_ = false;
};

class HostFilter {
 public:
  // Replaces any tables of an earlier run for this bridge and installs fresh ones. Fails, with
  // what the kernel lacks, where nftables cannot be used: the worker must then not start.
  static std::expected<std::unique_ptr<HostFilter>, std::string> install(FilterConfig cfg);
  ~HostFilter();  // leaves the tables in place: see remove()
  HostFilter(const HostFilter&) = delete;
  HostFilter& operator=(const HostFilter&) = delete;

  // Deletes both tables (clean shutdown, after every machine is gone).
  std::expected<void, std::string> remove();

  // Frames from `port` pass with source `mac` and `ip` only; with `egress` (which needs
  // egress_nat), `ip` may also open connections out of the host. Safe from any thread.
  std::expected<PortAdmission, std::string> admit(const std::string& port, const MacAddress& mac,
                                                  Ipv4 ip, bool egress);

  const FilterConfig& config() const { return cfg_; }

 private:
  friend class PortAdmission;
  explicit HostFilter(FilterConfig cfg);
  std::expected<void, std::string> run(const std::string& commands);
  void evict(const PortAdmission& a);

  FilterConfig cfg_;
  std::mutex mu_;  // libnftables' context is not thread-safe; supervisors call from their own
  nft_ctx* ctx_ = nullptr;
};

}  // namespace berth::vmm::net
