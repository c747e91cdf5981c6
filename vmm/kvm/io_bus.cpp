#include "vmm/kvm/io_bus.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace berth::vmm::kvm {

namespace {
// The first accesses are logged one by one (they tell what a guest expected to find), then one
// in kLogEvery so a scanning guest costs a log line per thousands of exits.
constexpr uint64_t kLogFirst = 16;
constexpr uint64_t kLogEvery = 4096;
}  // namespace

std::expected<void, std::string> IoBus::add(uint64_t base, uint64_t len,
                                            std::shared_ptr<BusDevice> device) {
  if (len == 0 || base + len < base)
    return std::unexpected(name_ + " range at " + std::to_string(base) + " is empty or wraps");
  if (!device) return std::unexpected(name_ + " range registered without a device");
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), base,
                             [](const Range& r, uint64_t b) { return r.base < b; });
  // Overlap with the range before (it extends past base) or the one at/after (starts before end).
  if (it != ranges_.begin()) {
    const Range& prev = *(it - 1);
    if (prev.base + prev.len > base)
      return std::unexpected(fmt::format("{} range {:#x}+{:#x} overlaps {:#x}+{:#x}", name_, base,
                                         len, prev.base, prev.len));
  }
  if (it != ranges_.end() && it->base < base + len)
    return std::unexpected(fmt::format("{} range {:#x}+{:#x} overlaps {:#x}+{:#x}", name_, base,
                                       len, it->base, it->len));
  ranges_.insert(it, Range{base, len, std::move(device)});
  return {};
}

const IoBus::Range* IoBus::find(uint64_t addr, uint64_t size) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                             [](uint64_t a, const Range& r) { return a < r.base; });
  if (it == ranges_.begin()) return nullptr;
  const Range& r = *(it - 1);
  // The whole access must lie inside the range: an access straddling the end is unhandled.
  uint64_t off = addr - r.base;
  if (off >= r.len || size > r.len - off) return nullptr;
  return &r;
}

bool IoBus::read(uint64_t addr, std::span<uint8_t> data) {
  if (const Range* r = find(addr, data.size())) {
    r->device->read(addr - r->base, data);
    return true;
  }
  std::memset(data.data(), 0xff, data.size());
  log_unhandled("read", addr, data.size(), 0);
  return false;
}

bool IoBus::write(uint64_t addr, std::span<const uint8_t> data) {
  if (const Range* r = find(addr, data.size())) {
    r->device->write(addr - r->base, data);
    return true;
  }
  uint64_t v = 0;
  std::memcpy(&v, data.data(), std::min(data.size(), sizeof v));
  log_unhandled("write", addr, data.size(), v);
  return false;
}

void IoBus::log_unhandled(const char* what, uint64_t addr, size_t size, uint64_t value) {
  uint64_t n = unhandled_.fetch_add(1, std::memory_order_relaxed);
  if (n < kLogFirst || n % kLogEvery == 0)
    spdlog::debug("vmm: unhandled {} {} at {:#x} size {} value {:#x} ({} so far)", name_, what,
                  addr, size, value, n + 1);
}

}  // namespace berth::vmm::kvm
