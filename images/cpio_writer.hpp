#pragma once
// The "newc" cpio format the kernel unpacks an initramfs from
// (Documentation/driver-api/early-userspace/buffer-format.rst), written from a directory tree.
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <span>
#include <string>

namespace berth::images {

class CpioWriter {
 public:
  using Sink = std::function<std::expected<void, std::string>(std::span<const uint8_t>)>;
  explicit CpioWriter(Sink sink) : sink_(std::move(sink)) {}

  // Every entry under `dir`, parents before children, names sorted so the same tree always
  // packs to the same bytes. Archive names are relative to `dir` ("usr/bin/python3").
  // Symlinks are stored as links; hard links as separate copies; sockets and fifos skipped.
  std::expected<void, std::string> add_tree(const std::filesystem::path& dir);
  // One regular file from the host at `name` in the archive, e.g. the agent as "init".
  std::expected<void, std::string> add_file(const std::filesystem::path& host, std::string name,
                                            uint32_t mode);
  std::expected<void, std::string> finish();  // the TRAILER!!! entry

 private:
  struct Header {
    uint32_t mode = 0, uid = 0, gid = 0, nlink = 1, mtime = 0, rdev_major = 0, rdev_minor = 0;
    uint64_t size = 0;
  };
  std::expected<void, std::string> entry(const std::string& name, const Header& h);
  std::expected<void, std::string> add_path(const std::filesystem::path& host,
                                            const std::string& name);
  std::expected<void, std::string> copy_data(const std::filesystem::path& host, uint64_t size);
  std::expected<void, std::string> emit(std::span<const uint8_t> data);
  std::expected<void, std::string> pad();
  Sink sink_;
  uint64_t offset_ = 0;
  uint32_t next_ino_ = 1;
};

}  // namespace berth::images
