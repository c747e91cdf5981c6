#include "images/package_versions.hpp"

#include <fstream>
#include <sstream>

#include "images/command.hpp"

namespace berth::images {

std::expected<PackageVersions, std::string> installed_packages(const std::filesystem::path& root,
                                                               const std::filesystem::path& log) {
  auto out = log.string() + ".packages";
  std::error_code ec;
  std::filesystem::remove(out, ec);
  // The host's dpkg-query reads the image's database; nothing runs inside the image.
  auto r =
      run_command({"sh", "-c",
                   "exec dpkg-query --admindir=\"$1\" -W -f='${db:Status-Abbrev}\\t${Package}\\t${"
                   "Version}\\n' > \"$2\"",
                   "sh", (root / "var/lib/dpkg").string(), out},
                  log, std::chrono::seconds(60));
  if (!r) return std::unexpected("listing the image's packages failed: " + r.error());
  std::ifstream in(out);
  PackageVersions p;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string status, name, version;
    if (!std::getline(ls, status, '\t') || !std::getline(ls, name, '\t') ||
        !std::getline(ls, version))
      continue;
    if (status.rfind("ii", 0) == 0) p[name] = version;
  }
  std::filesystem::remove(out, ec);
  if (p.empty()) return std::unexpected("no installed packages found in " + root.string());
  return p;
}

std::string package_lines(const PackageVersions& p) {
  std::string s;
  for (auto& [name, version] : p) s += name + "=" + version + "\n";
  return s;
}

}  // namespace berth::images
