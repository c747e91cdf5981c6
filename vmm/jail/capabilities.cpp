#include "vmm/jail/capabilities.hpp"

#include <linux/capability.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace berth::vmm::jail {

namespace {

const std::map<std::string, int>& cap_numbers() {
  static const std::map<std::string, int> m = {{"CAP_NET_ADMIN", CAP_NET_ADMIN},
                                               {"CAP_SETUID", CAP_SETUID},
                                               {"CAP_SETGID", CAP_SETGID},
                                               {"CAP_SETPCAP", CAP_SETPCAP},
                                               {"CAP_KILL", CAP_KILL},
                                               {"CAP_SYS_RESOURCE", CAP_SYS_RESOURCE},
                                               {"CAP_DAC_OVERRIDE", CAP_DAC_OVERRIDE},
                                               {"CAP_CHOWN", CAP_CHOWN},
                                               {"CAP_FOWNER", CAP_FOWNER}};
  return m;
}

// The hex value of a "Name:\t<hex>" line of /proc/<pid>/status.
std::expected<uint64_t, std::string> status_field(const std::string& path,
                                                  const std::string& name) {
  std::ifstream in(path);
  if (!in) return std::unexpected("open " + path + ": " + std::strerror(errno));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      uint64_t v = 0;
      std::istringstream(line.substr(name.size() + 1)) >> std::hex >> v;
      return v;
    }
  }
  return std::unexpected("no " + name + " line in " + path);
}

}  // namespace

const std::vector<std::string>& agent_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_NET_ADMIN",    "CAP_SETUID",       "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL",
      "CAP_SYS_RESOURCE", "CAP_DAC_OVERRIDE", "CAP_CHOWN",  "CAP_FOWNER"};
  return caps;
}

CapPlan plan_capabilities(uint64_t held) {
  CapPlan plan;
  for (auto& name : agent_capabilities()) {
    uint64_t bit = uint64_t{1} << cap_numbers().at(name);
    if (held & bit) {
      plan.add.push_back(name);
      plan.mask |= bit;
    } else {
      plan.unavailable.push_back(name);
    }
  }
  return plan;
}

std::expected<uint64_t, std::string> held_capabilities() {
  auto prm = status_field("/proc/self/status", "CapPrm");
  if (!prm) return prm;
  auto bnd = status_field("/proc/self/status", "CapBnd");
  if (!bnd) return bnd;
  return *prm & *bnd;
}

std::expected<uint64_t, std::string> effective_capabilities(pid_t pid) {
  return status_field("/proc/" + std::to_string(pid) + "/status", "CapEff");
}

}  // namespace berth::vmm::jail
