#include "actors/ip_pool.hpp"

#include <fstream>
#include <set>
#include <sstream>

namespace berth::actors {

std::expected<IpPool, std::string> IpPool::open(const std::string& cidr,
                                                std::filesystem::path lease_file) {
  auto net = vmm::net::Cidr::parse(cidr);
  if (!net) return std::unexpected("cidr: " + net.error());
  if (net->prefix() < 16 || net->prefix() > 30)
    return std::unexpected("cidr '" + cidr + "': prefix must be between 16 and 30");
  IpPool p;
  p.prefix_ = net->prefix();
  p.gateway_ = *net->host(1);  // the bridge
  p.first_ = net->host(2)->value();
  p.last_ = net->host(net->host_count())->value();
  p.next_ = p.first_;
  p.file_ = std::move(lease_file);
  std::ifstream in(p.file_);
  std::string ip, job;
  while (in >> ip >> job) {
    auto v = vmm::net::Ipv4::parse(ip);
    if (v && v->value() >= p.first_ && v->value() <= p.last_) p.by_job_[job] = v->value();
  }
  return p;
}

std::string IpPool::gateway() const {
  return gateway_.to_string();
}

std::expected<std::string, std::string> IpPool::lease(const std::string& job_id) {
  if (auto it = by_job_.find(job_id); it != by_job_.end())
    return vmm::net::Ipv4(it->second).to_string();
  std::set<uint32_t> used;
  for (auto& [_, v] : by_job_) used.insert(v);
  uint32_t n = capacity();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t cand = first_ + (next_ - first_ + i) % n;
    if (used.count(cand)) continue;
    by_job_[job_id] = cand;
    next_ = cand + 1 > last_ ? first_ : cand + 1;
    if (auto s = save(); !s) {
      by_job_.erase(job_id);
      return std::unexpected(s.error());
    }
    return vmm::net::Ipv4(cand).to_string();
  }
  return std::unexpected("address pool exhausted: all " + std::to_string(n) +
                         " addresses are leased");
}

void IpPool::release(const std::string& job_id) {
  if (by_job_.erase(job_id)) (void)save();
}

size_t IpPool::release_recovered() {
  size_t n = by_job_.size();
  by_job_.clear();
  (void)save();
  return n;
}

std::expected<void, std::string> IpPool::save() const {
  auto tmp = file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (auto& [job, v] : by_job_) out << vmm::net::Ipv4(v).to_string() << ' ' << job << '\n';
    if (!out) return std::unexpected("write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file_, ec);
  if (ec) return std::unexpected("rename " + tmp.string() + ": " + ec.message());
  return {};
}

}  // namespace berth::actors
