#include "images/zstd_writer.hpp"

#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace berth::images {

std::expected<ZstdWriter, std::string> ZstdWriter::open(const std::filesystem::path& path,
                                                        int level) {
  std::FILE* f = std::fopen(path.c_str(), "wbe");
  if (!f) return std::unexpected("create " + path.string() + ": " + std::strerror(errno));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (!cctx) {
    std::fclose(f);
    return std::unexpected("zstd: out of memory");
  }
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  // The kernel's decompressor verifies the checksum: a truncated image fails loudly at boot.
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  return ZstdWriter(f, cctx, path);
}

ZstdWriter::ZstdWriter(ZstdWriter&& o) noexcept
    : file_(std::exchange(o.file_, nullptr)),
      cctx_(std::exchange(o.cctx_, nullptr)),
      path_(std::move(o.path_)),
      in_(o.in_),
      out_(o.out_) {}

ZstdWriter::~ZstdWriter() {
  if (cctx_) ZSTD_freeCCtx(cctx_);
  if (file_) std::fclose(file_);
}

std::expected<void, std::string> ZstdWriter::pump(std::span<const uint8_t> data, bool end) {
  std::vector<uint8_t> out(ZSTD_CStreamOutSize());
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  for (;;) {
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    size_t left = ZSTD_compressStream2(cctx_, &ob, &in, end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(left)) return std::unexpected(std::string("zstd: ") + ZSTD_getErrorName(left));
    if (ob.pos && std::fwrite(out.data(), 1, ob.pos, file_) != ob.pos)
      return std::unexpected("write " + path_.string() + ": " + std::strerror(errno));
    out_ += ob.pos;
    if (end ? left == 0 : in.pos == in.size) return {};
  }
}

std::expected<void, std::string> ZstdWriter::write(std::span<const uint8_t> data) {
  in_ += data.size();
  return pump(data, false);
}

std::expected<void, std::string> ZstdWriter::finish() {
  if (auto r = pump({}, true); !r) return r;
  int rc = std::fflush(file_) | fsync(fileno(file_));
  std::fclose(std::exchange(file_, nullptr));
  if (rc != 0) return std::unexpected("write " + path_.string() + ": " + std::strerror(errno));
  return {};
}

}  // namespace berth::images
