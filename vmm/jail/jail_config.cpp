#include "vmm/jail/jail_config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "vmm/net/ipv4.hpp"
#include "vmm/net/netlink.hpp"

namespace berth::vmm::jail {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

std::expected<void, std::string> check_job_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..")
    return std::unexpected("job id '" + id + "' must be 1..128 characters and not '.' or '..'");
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return std::unexpected("job id '" + id + "' may only contain letters, digits, '.', '_', '-'");
  return {};
}

std::expected<void, std::string> check_config(const MachineConfig& cfg) {
  if (auto ok = check_job_id(cfg.job_id); !ok) return ok;

  struct stat st {};
  if (stat(cfg.rootfs.c_str(), &st) != 0)
    return std::unexpected("rootfs " + cfg.rootfs.string() + ": " + errno_text());
  if (!S_ISDIR(st.st_mode))
    return std::unexpected("rootfs " + cfg.rootfs.string() + " is not a directory");
  if (stat(cfg.agent.c_str(), &st) != 0)
    return std::unexpected("agent " + cfg.agent.string() + ": " + errno_text());
  if (!S_ISREG(st.st_mode) || access(cfg.agent.c_str(), X_OK) != 0)
    return std::unexpected("agent " + cfg.agent.string() + " is not an executable file");
  auto run = cfg.run_dir.lexically_normal();
  if (run.empty() || !run.has_relative_path() || run.filename().empty())
    return std::unexpected("run_dir '" + cfg.run_dir.string() +
                           "' must name a directory of its own (it is removed on stop)");

  if (auto ok = net::check_link_name(cfg.net.bridge); !ok)
    return std::unexpected("bridge: " + ok.error());
  auto guest = net::Ipv4::parse(cfg.net.guest_ip);
  if (!guest) return std::unexpected("guest address: " + guest.error());
  auto gateway = net::Ipv4::parse(cfg.net.gateway_ip);
  if (!gateway) return std::unexpected("gateway address: " + gateway.error());
  if (cfg.net.prefix_len < 1 || cfg.net.prefix_len > 30)
    return std::unexpected("prefix length " + std::to_string(cfg.net.prefix_len) +
                           " is not in 1..30");
  auto network = net::Cidr::enclosing(*gateway, cfg.net.prefix_len);
  if (!network) return std::unexpected(network.error());
  if (!network->contains(*guest) || *guest == network->network() ||
      *guest == network->broadcast() || *guest == *gateway)
    return std::unexpected("guest address " + guest->to_string() +
                           " is not a free host address of " + network->to_string() + " (gateway " +
                           gateway->to_string() + ")");

  if (cfg.memory_mib == 0) return std::unexpected(std::string("memory limit is 0 MiB"));
  if (cfg.processes == 0) return std::unexpected(std::string("process limit is 0"));
  if (cfg.work_dir_bytes == 0) return std::unexpected(std::string("work dir size is 0 bytes"));
  if (cfg.agent_port == 0) return std::unexpected(std::string("agent port is 0"));
  return {};
}

}  // namespace berth::vmm::jail
