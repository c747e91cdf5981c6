#include "images/cpio_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace berth::images {

namespace fs = std::filesystem;

std::expected<void, std::string> CpioWriter::emit(std::span<const uint8_t> data) {
  offset_ += data.size();
  return sink_(data);
}

std::expected<void, std::string> CpioWriter::pad() {
  static constexpr uint8_t zeros[4] = {};
  size_t n = (4 - offset_ % 4) % 4;
  return n ? emit({zeros, n}) : std::expected<void, std::string>{};
}

std::expected<void, std::string> CpioWriter::entry(const std::string& name, const Header& h) {
  if (h.size > 0xffffffffu) return std::unexpected(name + ": larger than cpio's 4 GiB limit");
  char hdr[111];
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
  // rdevminor, namesize (with the NUL), check.
  std::snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                next_ino_++, h.mode, h.uid, h.gid, h.nlink, h.mtime, static_cast<uint32_t>(h.size),
                0u, 0u, h.rdev_major, h.rdev_minor, static_cast<uint32_t>(name.size() + 1), 0u);
  if (auto r = emit({reinterpret_cast<const uint8_t*>(hdr), 110}); !r) return r;
  if (auto r = emit({reinterpret_cast<const uint8_t*>(name.c_str()), name.size() + 1}); !r)
    return r;
  return pad();
}

std::expected<void, std::string> CpioWriter::copy_data(const fs::path& host, uint64_t size) {
  int fd = open(host.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::unexpected("open " + host.string() + ": " + std::strerror(errno));
  std::vector<uint8_t> buf(1 << 20);
  uint64_t left = size;
  while (left > 0) {
    ssize_t n = ::read(fd, buf.data(), std::min<uint64_t>(buf.size(), left));
    if (n <= 0) {
      close(fd);
      return std::unexpected("read " + host.string() + ": " +
                             (n == 0 ? "file shrank while packing" : std::strerror(errno)));
    }
    if (auto r = emit({buf.data(), static_cast<size_t>(n)}); !r) {
      close(fd);
      return r;
    }
    left -= n;
  }
  close(fd);
  return pad();
}

std::expected<void, std::string> CpioWriter::add_path(const fs::path& host,
                                                      const std::string& name) {
  struct stat st;
  if (lstat(host.c_str(), &st) != 0)
    return std::unexpected("stat " + host.string() + ": " + std::strerror(errno));
  Header h;
  h.mode = st.st_mode;
  h.uid = st.st_uid;
  h.gid = st.st_gid;
  h.mtime = static_cast<uint32_t>(st.st_mtime);
  if (S_ISDIR(st.st_mode)) {
    h.nlink = 2;
    return entry(name, h);
  }
  if (S_ISREG(st.st_mode)) {
    h.size = st.st_size;
    if (auto r = entry(name, h); !r) return r;
    return copy_data(host, h.size);
  }
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    auto target = fs::read_symlink(host, ec).string();
    if (ec) return std::unexpected("readlink " + host.string() + ": " + ec.message());
    h.size = target.size();
    if (auto r = entry(name, h); !r) return r;
    if (auto r = emit({reinterpret_cast<const uint8_t*>(target.data()), target.size()}); !r)
      return r;
    return pad();
  }
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    h.rdev_major = major(st.st_rdev);
    h.rdev_minor = minor(st.st_rdev);
    return entry(name, h);
  }
  return {};  // sockets and fifos: nothing a fresh machine could use
}

std::expected<void, std::string> CpioWriter::add_tree(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> children;
  for (auto& e : fs::directory_iterator(dir, ec)) children.push_back(e.path());
  if (ec) return std::unexpected("list " + dir.string() + ": " + ec.message());
  std::sort(children.begin(), children.end());
  // Depth-first with an explicit stack of (host path, archive name).
  std::vector<std::pair<fs::path, std::string>> todo;
  for (auto it = children.rbegin(); it != children.rend(); ++it)
    todo.emplace_back(*it, it->filename().string());
  while (!todo.empty()) {
    auto [host, name] = std::move(todo.back());
    todo.pop_back();
    if (auto r = add_path(host, name); !r) return r;
    if (fs::is_directory(fs::symlink_status(host, ec))) {
      std::vector<fs::path> sub;
      for (auto& e : fs::directory_iterator(host, ec)) sub.push_back(e.path());
      if (ec) return std::unexpected("list " + host.string() + ": " + ec.message());
      std::sort(sub.begin(), sub.end());
      for (auto it = sub.rbegin(); it != sub.rend(); ++it)
        todo.emplace_back(*it, name + "/" + it->filename().string());
    }
  }
  return {};
}

std::expected<void, std::string> CpioWriter::add_file(const fs::path& host, std::string name,
                                                      uint32_t mode) {
  std::error_code ec;
  auto size = fs::file_size(host, ec);
  if (ec) return std::unexpected(host.string() + ": " + ec.message());
  Header h;
  h.mode = S_IFREG | (mode & 07777);
  h.size = size;
  if (auto r = entry(name, h); !r) return r;
  return copy_data(host, size);
}

std::expected<void, std::string> CpioWriter::finish() {
  Header h;
  return entry("TRAILER!!!", h);
}

}  // namespace berth::images
