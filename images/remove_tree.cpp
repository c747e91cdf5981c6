#include "images/remove_tree.hpp"

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace berth::images {

namespace fs = std::filesystem;

namespace {

// Mount points in /proc/self/mountinfo escape space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, point;
    if (!(ls >> id >> parent >> devno >> root >> point)) continue;
    point = unescape(point);
    if (point == dir || point.starts_with(dir + "/")) out.push_back(point);
  }
  return out;
}

std::expected<void, std::string> remove_same_fs(const fs::path& p, dev_t dev) {
  struct stat st;
  if (lstat(p.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return std::unexpected("stat " + p.string() + ": " + std::strerror(errno));
  }
  if (st.st_dev != dev)
    return std::unexpected(p.string() + " is on another filesystem (still mounted?); not removed");
  if (S_ISDIR(st.st_mode)) {
    std::error_code ec;
    std::vector<fs::path> children;
    for (auto& e : fs::directory_iterator(p, ec)) children.push_back(e.path());
    if (ec) return std::unexpected("list " + p.string() + ": " + ec.message());
    for (auto& c : children)
      if (auto r = remove_same_fs(c, dev); !r) return r;
  }
  if (std::remove(p.c_str()) != 0 && errno != ENOENT)
    return std::unexpected("remove " + p.string() + ": " + std::strerror(errno));
  return {};
}

}  // namespace

std::expected<void, std::string> remove_tree(const fs::path& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return std::unexpected("stat " + dir.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  auto abs = fs::absolute(dir, ec).lexically_normal().string();
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  auto points = mounts_under(abs);
  // Deepest first, so a mount on top of another comes off before the one below it.
  std::sort(points.begin(), points.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (auto& p : points)
    if (umount2(p.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      return std::unexpected("unmount " + p + " (left by a failed build): " + std::strerror(errno));
  if (lstat(dir.c_str(), &st) != 0) return {};
  return remove_same_fs(dir, st.st_dev);
}

}  // namespace berth::images
