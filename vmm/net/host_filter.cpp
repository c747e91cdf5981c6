#include "vmm/net/host_filter.hpp"

#include <nftables/libnftables.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <fstream>
#include <utility>

namespace berth::vmm::net {

namespace {

// Interface names go into nft text between quotes; ours are [A-Za-z0-9_.-] (the worker's config
// checks the bridge's; ports are "bj"/"bt" + hex), and nothing else is let through.
bool safe_ifname(const std::string& name) {
  if (name.empty() || name.size() > 15) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

std::string cidr_list(const std::vector<Cidr>& ranges) {
  std::string out;
  for (auto& r : ranges) out += (out.empty() ? "" : ", ") + r.to_string();
  return out;
}

Cidr must_parse(const char* text) {
  return *Cidr::parse(text);
}

}  // namespace

const std::vector<Cidr>& default_denied_ranges() {
  static const std::vector<Cidr> ranges = {
      must_parse("0.0.0.0/8"),    must_parse("10.0.0.0/8"),     must_parse("100.64.0.0/10"),
      must_parse("127.0.0.0/8"),  must_parse("169.254.0.0/16"), must_parse("172.16.0.0/12"),
      must_parse("192.0.0.0/24"), must_parse("192.168.0.0/16"), must_parse("198.18.0.0/15"),
      must_parse("224.0.0.0/4"),  must_parse("240.0.0.0/4")};
  return ranges;
}

std::string filter_table_name(const std::string& bridge) {
  std::string t = "berth_";
  for (char c : bridge) t += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return t;
}

std::string filter_ruleset(const FilterConfig& cfg) {
  const std::string t = filter_table_name(cfg.bridge);
  const std::string br = "\"" + cfg.bridge + "\"";
  std::vector<Cidr> denied = cfg.denied;
  denied.push_back(cfg.subnet);  // machines never reach each other by way of the host either

  // "add" then "delete" makes the delete succeed whether or not an earlier run left the table;
  // the whole text is one transaction, so there is no moment without a filter on a restart.
  std::string out;
  for (const char* family : {"inet", "bridge"})
    out +=
        std::string("add table ") + family + " " + t + "\ndelete table " + family + " " + t + "\n";
  out += "table inet " + t + " {\n";
  out += "  set egress {\n    type ipv4_addr\n  }\n";
  out +=
      "  set denied {\n    type ipv4_addr\n    flags interval\n    auto-merge\n    elements = { " +
      cidr_list(denied) + " }\n  }\n";
  // Before the usual filter priority (0), so nothing of ours depends on another table's order;
  // a drop in any base chain is final anyway.
  out += "  chain input {\n    type filter hook input priority -10; policy accept;\n";
  out += "    iifname " + br + " ct state established,related accept\n";
  out += "    iifname " + br + " drop\n  }\n";
  out += "  chain forward {\n    type filter hook forward priority -10; policy accept;\n";
  out += "    oifname " + br + " ct state established,related accept\n";
  if (cfg.egress_nat)
    out += "    iifname " + br + " oifname != " + br +
           " ip saddr @egress ip daddr != @denied accept\n";
  out += "    iifname " + br + " drop\n    oifname " + br + " drop\n  }\n";
  if (cfg.egress_nat) {
    out += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
    out += "    oifname != " + br + " ip saddr @egress masquerade\n  }\n";
  }
  out += "}\n";

  out += "table bridge " + t + " {\n";
  out += "  set ports {\n    type ifname\n  }\n";
  out += "  set pins {\n    type ifname . ether_addr . ipv4_addr\n  }\n";
  // Ports of other bridges (another worker's, docker's) are not ours to judge. For ARP both the
  // frame's and the ARP sender's MAC must be the lease's.
  out += "  chain prerouting {\n    type filter hook prerouting priority -300; policy accept;\n";
  out += "    iifname != @ports accept\n";
  out += "    ether type ip iifname . ether saddr . ip saddr @pins accept\n";
  out +=
      "    ether type arp iifname . ether saddr . arp saddr ip @pins iifname . arp saddr ether . "
      "arp saddr ip @pins accept\n";
  out += "    drop\n  }\n";
  // Port isolation already keeps machines apart; this holds even where it is not set.
  out += "  chain forward {\n    type filter hook forward priority -10; policy accept;\n";
  out += "    iifname @ports drop\n    oifname @ports drop\n  }\n";
  out += "}\n";
  return out;
}

PortAdmission& PortAdmission::operator=(PortAdmission&& o) noexcept {
  if (this != &o) {
    end();
    filter_ = std::exchange(o.filter_, nullptr);
    port_ = std::move(o.port_);
    mac_ = o.mac_;
    ip_ = o.ip_;
    egress_ = o.egress_;
  }
  return *this;
}

void PortAdmission::end() {
  if (auto* f = std::exchange(filter_, nullptr)) f->evict(*this);
}

HostFilter::HostFilter(FilterConfig cfg) : cfg_(std::move(cfg)) {}

HostFilter::~HostFilter() {
  if (ctx_) nft_ctx_free(ctx_);
}

std::expected<std::unique_ptr<HostFilter>, std::string> HostFilter::install(FilterConfig cfg) {
  if (!safe_ifname(cfg.bridge))
    return std::unexpected("filter: bridge name '" + cfg.bridge +
                           "' must be 1 to 15 of [A-Za-z0-9_.-]");
  if (cfg.egress_nat) {
    // Masqueraded egress needs the host to route. Only admitted machines' new connections are
    // forwarded (the forward chain drops the rest of the bridge's traffic).
    std::ofstream f("/proc/sys/net/ipv4/ip_forward");
    if (!(f << "1\n"))
      return std::unexpected(
          std::string("filter: cannot enable /proc/sys/net/ipv4/ip_forward, "
                      "which egress = nat needs"));
  }
  auto filter = std::unique_ptr<HostFilter>(new HostFilter(std::move(cfg)));
  filter->ctx_ = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!filter->ctx_) return std::unexpected(std::string("filter: nft_ctx_new failed"));
  nft_ctx_buffer_output(filter->ctx_);
  nft_ctx_buffer_error(filter->ctx_);
  if (auto ok = filter->run(filter_ruleset(filter->cfg_)); !ok)
    return std::unexpected(
        "cannot install the nftables tables of bridge " + filter->cfg_.bridge + ": " + ok.error() +
        "\nberth filters every machine's traffic and does not run jobs unfiltered. This kernel "
        "needs nf_tables with the inet and bridge families and conntrack (modules nf_tables, "
        "nft_ct, nf_conntrack, nft_meta_bridge" +
        (filter->cfg_.egress_nat ? std::string(", and for egress = nat nft_masq and nf_nat") : "") +
        ").");
  // The bridge's own IPv6 link-local address would be a door the IPv4 rules do not cover; the
  // bridge table drops IPv6 frames from machines, and the bridge gets no IPv6 at all.
  std::ofstream v6("/proc/sys/net/ipv6/conf/" + filter->cfg_.bridge + "/disable_ipv6");
  if (v6) v6 << "1\n";  // absent when the host has no IPv6: nothing to turn off
  spdlog::info("filter: nftables tables inet/bridge {} installed for {} (egress {})",
               filter_table_name(filter->cfg_.bridge), filter->cfg_.bridge,
               filter->cfg_.egress_nat ? "nat" : "none");
  return filter;
}

std::expected<void, std::string> HostFilter::remove() {
  auto t = filter_table_name(cfg_.bridge);
  return run("add table inet " + t + "\ndelete table inet " + t + "\nadd table bridge " + t +
             "\ndelete table bridge " + t + "\n");
}

std::expected<void, std::string> HostFilter::run(const std::string& commands) {
  std::lock_guard lock(mu_);
  int rc = nft_run_cmd_from_buffer(ctx_, commands.c_str());
  std::string err = nft_ctx_get_error_buffer(ctx_);
  (void)nft_ctx_get_output_buffer(ctx_);  // reading resets the buffer for the next command
  if (rc != 0) {
    // nft repeats the command and a caret line under each error; the errors themselves say it.
    std::string said;
    size_t pos = 0;
    while (pos < err.size()) {
      auto end = err.find('\n', pos);
      auto line = err.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      if (auto e = line.find("Error: "); e != std::string::npos) {
        line = line.substr(e + 7);
        if (said.find(line) == std::string::npos) said += (said.empty() ? "" : "; ") + line;
      }
      if (end == std::string::npos) break;
      pos = end + 1;
    }
    return std::unexpected(said.empty() ? std::string("nft failed") : said);
  }
  return {};
}

std::expected<PortAdmission, std::string> HostFilter::admit(const std::string& port,
                                                            const MacAddress& mac, Ipv4 ip,
                                                            bool egress) {
  if (!safe_ifname(port))
    return std::unexpected("filter: port name '" + port + "' must be 1 to 15 of [A-Za-z0-9_.-]");
  if (egress && !cfg_.egress_nat)
    return std::unexpected(
        std::string("filter: egress asked for, but this worker's egress is none"));
  auto t = filter_table_name(cfg_.bridge);
  std::string cmds = "add element bridge " + t + " ports { \"" + port + "\" }\n" +
                     "add element bridge " + t + " pins { \"" + port + "\" . " + to_string(mac) +
                     " . " + ip.to_string() + " }\n";
  if (egress) cmds += "add element inet " + t + " egress { " + ip.to_string() + " }\n";
  if (auto ok = run(cmds); !ok) return std::unexpected("filter: admit " + port + ": " + ok.error());
  PortAdmission a;
  a.filter_ = this;
  a.port_ = port;
  a.mac_ = mac;
  a.ip_ = ip;
  a.egress_ = egress;
  return a;
}

void HostFilter::evict(const PortAdmission& a) {
  auto t = filter_table_name(cfg_.bridge);
  std::string cmds = "delete element bridge " + t + " pins { \"" + a.port_ + "\" . " +
                     to_string(a.mac_) + " . " + a.ip_.to_string() + " }\n" +
                     "delete element bridge " + t + " ports { \"" + a.port_ + "\" }\n";
  if (a.egress_) cmds += "delete element inet " + t + " egress { " + a.ip_.to_string() + " }\n";
  if (auto ok = run(cmds); !ok) spdlog::error("filter: evict {}: {}", a.port_, ok.error());
}

}  // namespace berth::vmm::net
