// Fuzz target: Virtqueue::create/pop/add_used and the descriptor-chain walk
// (vmm/kvm/virtio/virtqueue.cpp, descriptor_chain.cpp) against a hostile driver that controls
// the queue's size and addresses and every byte of guest memory, interleaving its writes with
// the device's pops the way a driver on another vCPU can.
//
// Input: a header, then operations until the input ends (fuzz_support.hpp's Input: short
// inputs read zeros).
//   u8 memory (guest_side.hpp memory_size), u8 flags (bit 0: VIRTIO_F_INDIRECT_DESC),
//   u16 QueueNumMax, u32 QueueNum, u64 descriptor table, u64 available ring, u64 used ring;
//   ops, u8 each (mod 7):
//     0 write      u64 gpa, u16 len, len bytes: any store of the driver's
//     1 desc       u16 index, 16 bytes: a descriptor at table + 16 * index
//     2 publish    u16 head: into the next available slot, then avail idx + 1
//     3 pop        the device takes the next chain
//     4 used       u8 which outstanding chain (a raw u16 head when none), u32 len
//     5 interrupt  take_interrupt()
//     6 copy       u8 which outstanding chain, u32 offset, u16 len: copy_{from,to}_chain
//
// Beyond "no crash", every chain pop() hands out is checked against what the walk promises:
// buffers inside guest RAM, lengths that add up, no more descriptors than the tables hold; and
// pop()/add_used() against the indices in guest memory.
#include <algorithm>
#include <optional>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/guest_side.hpp"
#include "vmm/kvm/virtio/spec.hpp"

namespace berth::fuzz {
namespace {

using virtio::DescriptorChain;
using virtio::QueueConfig;
using virtio::RawDescriptor;
using virtio::Virtqueue;

Tally g_queues("queues created");
Tally g_chains("chains popped");
Tally g_errors("queue errors");
Tally g_indirect("chains with 2+ buffers");
Tally g_used("used elements added");
Tally g_copies("copies checked");

// The avail idx the driver published, read the way the device reads it.
uint16_t avail_idx(const kvm::GuestMemory& mem, const QueueConfig& c) {
  return mem.read_obj<uint16_t>(c.avail_ring + 2).value_or(0);
}

void check_chain(const kvm::GuestMemory& mem, const Virtqueue& q, const DescriptorChain& c) {
  FUZZ_CHECK(c.head < q.size());
  uint64_t readable = 0, writable = 0;
  for (const auto& b : c.readable) {
    FUZZ_CHECK(mem.slice(b.addr, b.len).has_value());
    readable += b.len;
  }
  for (const auto& b : c.writable) {
    FUZZ_CHECK(mem.slice(b.addr, b.len).has_value());
    writable += b.len;
  }
  FUZZ_CHECK(readable == c.readable_len);
  FUZZ_CHECK(writable == c.writable_len);
  FUZZ_CHECK(readable + writable > 0);
  FUZZ_CHECK(readable + writable <= UINT32_MAX);
  // At most a table's worth of direct descriptors plus one indirect table of at most as many.
  FUZZ_CHECK(c.readable.size() + c.writable.size() <= 2u * q.size());
}

// copy_from_chain must copy exactly the readable bytes from `offset` on, in chain order, and
// copy_to_chain as many writable ones.
void check_copies(const kvm::GuestMemory& mem, const DescriptorChain& c, uint64_t offset,
                  size_t len) {
  auto expect = [&](uint32_t total) -> size_t {
    return offset >= total ? 0 : std::min<uint64_t>(len, total - offset);
  };
  std::vector<uint8_t> got(len);
  size_t n = virtio::copy_from_chain(mem, c, offset, got);
  FUZZ_CHECK(n == expect(c.readable_len));
  // The same bytes, compared one buffer at a time (no gathering: a chain may name 4 GiB).
  uint64_t pos = 0;  // chain offset of buffer b
  for (const auto& b : c.readable) {
    uint64_t from = std::max(pos, offset), to = std::min<uint64_t>(pos + b.len, offset + n);
    if (from < to) {
      auto s = mem.slice(b.addr + (from - pos), to - from);
      FUZZ_CHECK(std::equal(s->begin(), s->end(), got.begin() + (from - offset)));
    }
    pos += b.len;
  }
  std::vector<uint8_t> data(len, 0xa5);
  FUZZ_CHECK(virtio::copy_to_chain(mem, c, offset, data) == expect(c.writable_len));
  ++g_copies;
}

void run(Input& in) {
  FuzzMemory fm(memory_size(in.take<uint8_t>()));
  const auto& mem = fm.mem();
  bool indirect = in.take<uint8_t>() & 1;
  auto max_size = in.take<uint16_t>();
  QueueConfig cfg;
  cfg.size = in.take<uint32_t>();
  cfg.desc_table = in.take<uint64_t>();
  cfg.avail_ring = in.take<uint64_t>();
  cfg.used_ring = in.take<uint64_t>();
  auto created = Virtqueue::create(mem, cfg, max_size, indirect);
  if (!created) return;
  ++g_queues;
  Virtqueue& q = *created;
  FUZZ_CHECK(q.size() == cfg.size && q.size() <= max_size);
  DriverQueue driver(mem, cfg);
  std::vector<DescriptorChain> outstanding;
  auto pick = [&](uint8_t which) -> std::optional<size_t> {
    if (outstanding.empty()) return std::nullopt;
    return which % outstanding.size();
  };

  while (!in.empty()) {
    switch (in.take<uint8_t>() % 7) {
      case 0: {
        auto gpa = in.take<uint64_t>();
        auto bytes = in.bytes(in.take<uint16_t>());
        mem.write(gpa, bytes);
        break;
      }
      case 1: {
        auto index = in.take<uint16_t>();
        RawDescriptor d;
        d.addr = in.take<uint64_t>();
        d.len = in.take<uint32_t>();
        d.flags = in.take<uint16_t>();
        d.next = in.take<uint16_t>();
        driver.write_desc(index, d);
        break;
      }
      case 2:
        driver.publish(in.take<uint16_t>());
        break;
      case 3: {
        uint16_t pending = static_cast<uint16_t>(avail_idx(mem, cfg) - q.next_avail());
        uint16_t before = q.next_avail();
        auto popped = q.pop();
        if (!popped) {
          ++g_errors;
          return;  // the driver broke a rule: the queue must not be used again
        }
        FUZZ_CHECK(pending <= q.size());
        if (!*popped) {
          FUZZ_CHECK(pending == 0);
          break;
        }
        FUZZ_CHECK(pending > 0);
        FUZZ_CHECK(q.next_avail() == static_cast<uint16_t>(before + 1));
        check_chain(mem, q, **popped);
        ++g_chains;
        if ((*popped)->readable.size() + (*popped)->writable.size() > 1) ++g_indirect;
        outstanding.push_back(std::move(**popped));
        break;
      }
      case 4: {
        auto i = pick(in.take<uint8_t>());
        uint16_t head = i ? outstanding[*i].head : in.take<uint16_t>();
        auto len = in.take<uint32_t>();
        auto r = q.add_used(head, len);
        if (!i) {
          FUZZ_CHECK(r.has_value() == (head < q.size()));
          break;
        }
        FUZZ_CHECK(r.has_value());  // create() checked the used ring: it is always writable
        FUZZ_CHECK(driver.used_idx() == q.next_used());
        outstanding.erase(outstanding.begin() + static_cast<long>(*i));
        ++g_used;
        break;
      }
      case 5:
        q.take_interrupt();
        break;
      case 6: {
        auto i = pick(in.take<uint8_t>());
        auto offset = in.take<uint32_t>();
        auto len = in.take<uint16_t>();
        if (i) check_copies(mem, outstanding[*i], offset, len);
        break;
      }
    }
  }
}

// Seeds: a header, then ops, in the encoding above.
Output header(uint8_t memory, bool indirect, uint16_t size, uint64_t desc, uint64_t avail,
              uint64_t used) {
  Output o;
  o.put<uint8_t>(memory).put<uint8_t>(indirect).put<uint16_t>(256).put<uint32_t>(size);
  o.put<uint64_t>(desc).put<uint64_t>(avail).put<uint64_t>(used);
  return o;
}
void desc(Output& o, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
  o.put<uint8_t>(1).put<uint16_t>(index).put<uint64_t>(addr).put<uint32_t>(len);
  o.put<uint16_t>(flags).put<uint16_t>(next);
}
void publish(Output& o, uint16_t head) {
  o.put<uint8_t>(2).put<uint16_t>(head);
}
void pop(Output& o) {
  o.put<uint8_t>(3);
}
void used(Output& o, uint8_t which, uint32_t len) {
  o.put<uint8_t>(4).put<uint8_t>(which).put<uint32_t>(len);
}
void copy(Output& o, uint8_t which, uint32_t offset, uint16_t len) {
  o.put<uint8_t>(6).put<uint8_t>(which).put<uint32_t>(offset).put<uint16_t>(len);
}

}  // namespace

std::vector<Seed> seeds() {
  using namespace virtio;
  std::vector<Seed> out;
  {  // a readable header and a writable buffer, copied, returned, interrupt taken
    Output o = header(0, false, 16, 0x1000, 0x1100, 0x2000);
    desc(o, 0, 0x10000, 64, kDescFNext, 1);
    desc(o, 1, 0x11000, 128, kDescFWrite, 0);
    publish(o, 0);
    pop(o);
    copy(o, 0, 10, 100);
    used(o, 0, 128);
    o.put<uint8_t>(5);
    pop(o);
    out.push_back({"valid-chain", o.bytes()});
  }
  {  // an indirect table of three descriptors
    Output o = header(0, true, 8, 0x1000, 0x1080, 0x2000);
    o.put<uint8_t>(0).put<uint64_t>(0x3000).put<uint16_t>(48);
    const RawDescriptor table[] = {{0x10000, 12, kDescFNext, 1},
                                   {0x10100, 200, kDescFNext | kDescFWrite, 2},
                                   {0x10200, 300, kDescFWrite, 0}};
    o.put(std::span(reinterpret_cast<const uint8_t*>(table), sizeof table));
    desc(o, 2, 0x3000, 48, kDescFIndirect, 0);
    publish(o, 2);
    pop(o);
    copy(o, 0, 0, 500);
    used(o, 0, 500);
    out.push_back({"indirect", o.bytes()});
  }
  {  // a queue of 4 used round and round: the rings' indices wrap past the queue size
    Output o = header(0, false, 4, 0x1000, 0x1040, 0x1100);
    for (uint16_t i = 0; i < 4; ++i) desc(o, i, 0x20000 + 0x100 * i, 32, kDescFWrite, 0);
    for (int round = 0; round < 10; ++round) {
      publish(o, static_cast<uint16_t>(round % 4));
      publish(o, static_cast<uint16_t>((round + 1) % 4));
      pop(o);
      pop(o);
      used(o, 1, 32);
      used(o, 0, 16);
    }
    out.push_back({"wraparound", o.bytes()});
  }
  {  // two descriptors linked into a loop: the TTL must end the walk
    Output o = header(0, false, 16, 0x1000, 0x1100, 0x2000);
    desc(o, 0, 0x10000, 8, kDescFNext, 1);
    desc(o, 1, 0x10000, 8, kDescFNext, 0);
    publish(o, 0);
    pop(o);
    out.push_back({"loop", o.bytes()});
  }
  {  // rings above the MMIO gap, a buffer ending exactly at the gap and one straddling it
    constexpr uint64_t kHigh = 1ull << 32;
    Output o = header(1, false, 8, kHigh, kHigh + 0x80, kHigh + 0x1000);
    desc(o, 0, 0xc0000000 - 64, 64, 0, 0);
    desc(o, 1, 0xc0000000 - 64, 65, 0, 0);
    publish(o, 0);
    publish(o, 1);
    pop(o);
    copy(o, 0, 0, 64);
    pop(o);
    out.push_back({"mmio-gap", o.bytes()});
  }
  {  // the driver publishes an avail idx far ahead of the device
    Output o = header(0, false, 16, 0x1000, 0x1100, 0x2000);
    o.put<uint8_t>(0).put<uint64_t>(0x1102).put<uint16_t>(2).put<uint16_t>(1000);
    pop(o);
    out.push_back({"avail-jump", o.bytes()});
  }
  return out;
}

}  // namespace berth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  berth::fuzz::silence_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::Input in(data, size);
  berth::fuzz::run(in);
  return 0;
}
