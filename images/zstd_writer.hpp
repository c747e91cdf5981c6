#pragma once
// A file written through zstd streaming compression: the kvm runtime's initramfs format (the
// guest kernel is built with CONFIG_RD_ZSTD).
#include <cstdint>
#include <cstdio>
#include <expected>
#include <filesystem>
#include <span>
#include <string>

struct ZSTD_CCtx_s;

namespace berth::images {

class ZstdWriter {
 public:
  static std::expected<ZstdWriter, std::string> open(const std::filesystem::path& path,
                                                     int level = 3);
  ZstdWriter(ZstdWriter&& o) noexcept;
  ZstdWriter(const ZstdWriter&) = delete;
  ~ZstdWriter();

  std::expected<void, std::string> write(std::span<const uint8_t> data);
  // Ends the frame and closes the file; the file is complete only once this succeeded.
  std::expected<void, std::string> finish();
  uint64_t bytes_in() const { return in_; }
  uint64_t bytes_out() const { return out_; }

 private:
  ZstdWriter(std::FILE* f, ZSTD_CCtx_s* cctx, std::filesystem::path path)
      : file_(f), cctx_(cctx), path_(std::move(path)) {}
  std::expected<void, std::string> pump(std::span<const uint8_t> data, bool end);
  std::FILE* file_ = nullptr;
  ZSTD_CCtx_s* cctx_ = nullptr;
  std::filesystem::path path_;
  uint64_t in_ = 0, out_ = 0;
};

}  // namespace berth::images
