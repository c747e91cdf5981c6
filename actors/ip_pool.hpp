#pragma once
// The worker's address pool: one IPv4 address per running machine, leased from a CIDR whose
// first host address is the bridge's own. Leases are written to a file on every change so a
// restarted worker knows what it had handed out.
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <string>

#include "vmm/net/ipv4.hpp"

namespace berth::actors {

class IpPool {
 public:
  // `cidr` like "10.213.0.0/24" (prefix 16..30). Loads `lease_file` if it exists.
  static std::expected<IpPool, std::string> open(const std::string& cidr,
                                                 std::filesystem::path lease_file);

  // The same job asking twice gets the same address.
  std::expected<std::string, std::string> lease(const std::string& job_id);
  void release(const std::string& job_id);
  // Forgets leases recovered from the file whose jobs this process does not run: after a
  // restart none of them does (their machines died with the old worker).
  size_t release_recovered();

  size_t in_use() const { return by_job_.size(); }
  size_t capacity() const { return last_ - first_ + 1; }
  std::string gateway() const;  // the bridge address: network + 1
  int prefix() const { return prefix_; }
  const std::map<std::string, uint32_t>& leases() const { return by_job_; }

 private:
  std::expected<void, std::string> save() const;
  vmm::net::Ipv4 gateway_;
  int prefix_ = 0;
  uint32_t first_ = 0, last_ = 0;  // leasable host addresses
  uint32_t next_ = 0;              // round-robin start, so a freed address rests a while
  std::map<std::string, uint32_t> by_job_;
  std::filesystem::path file_;
};

}  // namespace berth::actors
