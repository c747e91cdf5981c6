#include "agent/options.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <vector>

#include "messages/agent_auth.hpp"

namespace berth::agent {

namespace {

template <class T>
std::expected<T, std::string> parse_number(std::string_view text, std::string_view what) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    return std::unexpected(std::string(what) + ": not a number in range: '" + std::string(text) +
                           "'");
  return value;
}

std::expected<void, std::string> set_listen(std::string_view text, Options& o) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return std::unexpected("--listen wants ADDR:PORT, got '" + std::string(text) + "'");
  auto addr = parse_ipv4(text.substr(0, colon), false);
  if (!addr) return std::unexpected("--listen: " + addr.error());
  auto port = parse_number<uint16_t>(text.substr(colon + 1), "--listen port");
  if (!port) return std::unexpected(port.error());
  o.listen = *addr;
  o.port = *port;
  return {};
}

std::expected<void, std::string> set_secret_hex(std::string_view hex, std::string_view what,
                                                Options& o) {
  auto bytes = messages::from_hex(hex);
  if (!bytes) return std::unexpected(std::string(what) + ": " + bytes.error());
  if (bytes->size() != messages::kSecretBytes)
    return std::unexpected(std::string(what) + ": a secret is " +
                           std::to_string(messages::kSecretBytes) + " bytes, got " +
                           std::to_string(bytes->size()));
  o.secret = std::move(*bytes);
  return {};
}

// The secret as hex text from an inherited fd, which is closed after: nothing the job later
// runs can read it from there.
std::expected<void, std::string> read_secret_fd(std::string_view value, Options& o) {
  auto fd = parse_number<int>(value, "--secret-fd");
  if (!fd) return std::unexpected(fd.error());
  if (*fd < 3) return std::unexpected("--secret-fd: not a standard stream");
  char buf[2 * messages::kSecretBytes + 2];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = read(*fd, buf + got, sizeof buf - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(*fd);
      return std::unexpected(std::string("--secret-fd: read: ") + std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close(*fd);
  std::string_view text(buf, got);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return set_secret_hex(text, "--secret-fd", o);
}

// One flag with its value; false when the flag is unknown.
std::expected<bool, std::string> set_flag(std::string_view key, std::string_view value,
                                          Options& o) {
  auto assign_id = [&](auto& field) -> std::expected<bool, std::string> {
    auto n = parse_number<uint32_t>(value, key);
    if (!n) return std::unexpected(n.error());
    // -1 is "no change" to setresuid: it would silently keep root, as 0 would openly.
    if (*n == std::numeric_limits<uint32_t>::max())
      return std::unexpected(std::string(key) + ": invalid id");
    if (*n == 0) return std::unexpected(std::string(key) + ": the job must not run as root");
    field = *n;
    return true;
  };
  if (key == "--listen") {
    if (auto r = set_listen(value, o); !r) return std::unexpected(r.error());
  } else if (key == "--iface") {
    if (value.empty() || value.size() > 15) return std::unexpected("--iface: bad interface name");
    o.iface = value;
  } else if (key == "--ip") {
    auto ip = parse_ipv4(value, true);
    if (!ip) return std::unexpected("--ip: " + ip.error());
    o.ip = *ip;
  } else if (key == "--gateway") {
    auto gw = parse_ipv4(value, false);
    if (!gw) return std::unexpected("--gateway: " + gw.error());
    o.gateway = *gw;
  } else if (key == "--route-via") {
    auto via = parse_ipv4(value, false);
    if (!via) return std::unexpected("--route-via: " + via.error());
    o.route_via = *via;
  } else if (key == "--work") {
    if (value.empty() || value[0] != '/') return std::unexpected("--work wants an absolute path");
    o.work = value;
  } else if (key == "--uid") {
    return assign_id(o.uid);
  } else if (key == "--gid") {
    return assign_id(o.gid);
  } else if (key == "--cgroup-memory") {
    o.cgroup_memory = value;
  } else if (key == "--cgroup-pids") {
    o.cgroup_pids = value;
  } else if (key == "--cgroup-cpuacct") {
    o.cgroup_cpuacct = value;
  } else if (key == "--secret-fd") {
    if (auto r = read_secret_fd(value, o); !r) return std::unexpected(r.error());
  } else {
    return false;
  }
  return true;
}

bool is_flag(std::string_view key) {
  for (std::string_view f :
       {"--listen", "--iface", "--ip", "--gateway", "--route-via", "--work", "--uid", "--gid",
        "--cgroup-memory", "--cgroup-pids", "--cgroup-cpuacct", "--secret-fd"})
    if (key == f) return true;
  return false;
}

}  // namespace

std::string usage() {
  return "usage: berth-agent [--listen ADDR:PORT] [--iface NAME] [--ip A.B.C.D/PREFIX]\n"
         "                   [--gateway A.B.C.D] [--route-via A.B.C.D] [--work DIR]\n"
         "                   [--uid N] [--gid N]\n"
         "                   [--cgroup-memory DIR] [--cgroup-pids DIR] [--cgroup-cpuacct DIR]\n"
         "                   [--secret-fd FD]\n"
         "As PID 1 without arguments it reads berth.ip=, berth.gw=, berth.route=, berth.iface=, "
         "berth.work_mib=, berth.secret= from /proc/cmdline.\n";
}

std::expected<Options, std::string> parse_args(std::span<const std::string> args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    std::string_view key = arg;
    std::string_view value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      key = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      if (!is_flag(key)) return std::unexpected("unknown argument '" + std::string(key) + "'");
      if (i + 1 >= args.size()) return std::unexpected(std::string(arg) + " wants a value");
      value = args[++i];
    }
    auto known = set_flag(key, value, o);
    if (!known) return std::unexpected(known.error());
    if (!*known) return std::unexpected("unknown argument '" + std::string(key) + "'");
  }
  return o;
}

std::expected<void, std::string> apply_kernel_cmdline(std::string_view cmdline, Options& o) {
  size_t pos = 0;
  while (pos < cmdline.size()) {
    auto end = cmdline.find_first_of(" \t\n", pos);
    if (end == std::string_view::npos) end = cmdline.size();
    std::string_view word = cmdline.substr(pos, end - pos);
    pos = end + 1;
    if (!word.starts_with("berth.")) continue;
    auto eq = word.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = word.substr(0, eq);
    auto value = word.substr(eq + 1);
    std::expected<bool, std::string> r = false;
    if (key == "berth.ip")
      r = set_flag("--ip", value, o);
    else if (key == "berth.gw")
      r = set_flag("--gateway", value, o);
    else if (key == "berth.route")
      r = set_flag("--route-via", value, o);
    else if (key == "berth.iface")
      r = set_flag("--iface", value, o);
    else if (key == "berth.secret") {
      auto ok = set_secret_hex(value, "secret", o);
      r = ok ? std::expected<bool, std::string>(true) : std::unexpected(ok.error());
    } else if (key == "berth.work_mib") {
      auto mib = parse_number<uint32_t>(value, "MiB");
      if (mib && (*mib < 1 || *mib > 65536))
        mib = std::unexpected("MiB: not in 1..65536: '" + std::string(value) + "'");
      if (mib) o.work_bytes = uint64_t{*mib} << 20;
      r = mib ? std::expected<bool, std::string>(true) : std::unexpected(mib.error());
    }
    if (!r) return std::unexpected("kernel command line " + std::string(key) + ": " + r.error());
  }
  return {};
}

std::expected<Ipv4, std::string> parse_ipv4(std::string_view text, bool with_prefix) {
  Ipv4 out;
  std::string_view addr = text;
  if (with_prefix) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos)
      return std::unexpected("want A.B.C.D/PREFIX, got '" + std::string(text) + "'");
    auto p = parse_number<int>(text.substr(slash + 1), "prefix");
    if (!p || *p < 0 || *p > 32)
      return std::unexpected("bad prefix in '" + std::string(text) + "'");
    out.prefix = *p;
    addr = text.substr(0, slash);
  }
  uint32_t value = 0;
  int parts = 0;
  size_t pos = 0;
  while (true) {
    auto dot = addr.find('.', pos);
    auto part = addr.substr(pos, dot == std::string_view::npos ? addr.npos : dot - pos);
    auto n = parse_number<uint8_t>(part, "address");
    if (!n || ++parts > 4) return std::unexpected("bad IPv4 address '" + std::string(text) + "'");
    value = (value << 8) | *n;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  if (parts != 4) return std::unexpected("bad IPv4 address '" + std::string(text) + "'");
  out.addr = value;
  return out;
}

std::string format_ipv4(uint32_t addr) {
  return std::to_string(addr >> 24) + "." + std::to_string((addr >> 16) & 255) + "." +
         std::to_string((addr >> 8) & 255) + "." + std::to_string(addr & 255);
}

}  // namespace berth::agent
