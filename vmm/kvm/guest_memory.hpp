#pragma once
// A guest's RAM as the monitor sees it: anonymous host mappings at guest-physical addresses,
// with the 32-bit MMIO gap [3 GiB, 4 GiB) left out when the guest has more than 3 GiB.
//
// Every address a guest hands us (descriptors, boot structures the loader fills, buffers) is
// untrusted: the only way to touch guest RAM is through slice()/read()/write(), which check
// that [gpa, gpa + len) lies wholly inside one region without overflow. Nothing else in the
// monitor does pointer arithmetic on guest addresses.
#include <cstdint>
#include <cstring>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace berth::vmm::kvm {

inline constexpr uint64_t kMmioGapStart = 3ull << 30;  // 0xc000'0000
inline constexpr uint64_t kMmioGapEnd = 4ull << 30;    // 0x1'0000'0000

struct MemoryRegion {
  uint64_t guest_addr = 0;
  uint64_t size = 0;
  uint8_t* host = nullptr;
};

class GuestMemory {
 public:
  // Maps `size` bytes (a multiple of 4 KiB, at least 1 MiB) of zeroed anonymous memory: one
  // region at 0, or two around the MMIO gap.
  static std::expected<GuestMemory, std::string> create(uint64_t size);

  GuestMemory() = default;
  GuestMemory(GuestMemory&& o) noexcept;
  GuestMemory& operator=(GuestMemory&& o) noexcept;
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  ~GuestMemory();

  const std::vector<MemoryRegion>& regions() const { return regions_; }
  uint64_t size() const;  // total RAM, gap excluded
  // One past the highest guest-physical RAM address.
  uint64_t end() const;

  // Host view of [gpa, gpa + len) when it lies inside one region; nullopt otherwise.
  std::optional<std::span<uint8_t>> slice(uint64_t gpa, uint64_t len) const;
  bool read(uint64_t gpa, std::span<uint8_t> out) const;
  bool write(uint64_t gpa, std::span<const uint8_t> in) const;

  template <class T>
  std::optional<T> read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    if (!read(gpa, {reinterpret_cast<uint8_t*>(&v), sizeof v})) return std::nullopt;
    return v;
  }
  template <class T>
  bool write_obj(uint64_t gpa, const T& v) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(gpa, {reinterpret_cast<const uint8_t*>(&v), sizeof v});
  }

 private:
  void unmap();
  std::vector<MemoryRegion> regions_;
};

}  // namespace berth::vmm::kvm
