// Fuzz target: the virtio-mmio register window (vmm/kvm/virtio/mmio_transport.cpp) as a hostile
// driver drives it: reads and writes of any width at any offset of the 4 KiB window, notifies,
// stores to guest RAM, in any order. Behind the transport is either a ContractDevice, which
// checks that the transport calls a Device only as device.hpp promises, or virtio-net on a
// socketpair.
//
// Input: a header, then operations until the input ends.
//   u8 memory (memory_size), u8 device (bit 0: virtio-net, else a ContractDevice configured by:
//   u8 queues (1-4), u16 QueueNumMax per queue, u64 features, u8 config length + bytes,
//   u8 "activate fails" flag, u8 "the Nth process_queue fails" (0: never));
//   ops, u8 each (mod 8):
//     0 write    u8 width (1 << (w % 4)), u16 offset (mod 0x1000), u64 value
//     1 read     u8 width, u16 offset
//     2 write32  u8 register (offset 4 * r, mod 0x100), u32 value
//     3 read32   u8 register
//     4 notify   u16 queue (the ioeventfd path)
//     5 store    u32 gpa, u16 len, len bytes
//     6 probe    u64 driver features, u8 queue size log2: bring_up() with every queue laid out
//                at 0x10000 * (queue + 1)
//     7 chain    u8 queue, u32 addr, u32 len, u16 flags: one descriptor published on a queue
//                that op 6 laid out
//
// Checked after every op: the status bits only ever hold what §3.1.1's order allows; the device
// was activated exactly when DRIVER_OK is set and nothing failed; DEVICE_NEEDS_RESET, the
// transport's failed() and the device's stop() agree; a reset clears everything; the
// identification registers read what they must.
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/guest_side.hpp"
#include "vmm/kvm/virtio/device.hpp"
#include "vmm/kvm/virtio/net_device.hpp"
#include "vmm/kvm/virtio/spec.hpp"

namespace berth::fuzz {
namespace {

namespace mmio = virtio::mmio;
namespace st = virtio::status;
using virtio::DeviceResult;
using virtio::Queues;

Tally g_activated("devices activated");
Tally g_processed("queues processed");
Tally g_failed("transports failed");
Tally g_resets("resets");

constexpr uint32_t kContractDeviceId = 42;

class ContractDevice : public virtio::Device {
 public:
  explicit ContractDevice(Input& in) {
    queues_ = static_cast<uint16_t>(1 + in.take<uint8_t>() % 4);
    for (uint16_t q = 0; q < queues_; ++q) max_.push_back(in.take<uint16_t>());
    features_ = in.take<uint64_t>();
    auto config = in.bytes(in.take<uint8_t>());
    config_.assign(config.begin(), config.end());
    activate_fails_ = in.take<uint8_t>() & 1;
    fail_at_ = in.take<uint8_t>();
  }

  bool active() const { return active_; }
  bool stopped() const { return stopped_; }

  std::string_view name() const override { return "contract"; }
  uint32_t device_id() const override { return kContractDeviceId; }
  uint64_t features() const override { return features_; }
  uint16_t num_queues() const override { return queues_; }
  uint16_t max_queue_size(uint16_t queue) const override {
    FUZZ_CHECK(queue < queues_);
    return max_[queue];
  }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override {
    FUZZ_CHECK(offset < mmio::kWindowSize - mmio::kConfig && data.size() <= 8);
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = offset + i < config_.size() ? config_[offset + i] : 0;
  }
  void write_config(uint64_t offset, std::span<const uint8_t> data) override {
    FUZZ_CHECK(offset < mmio::kWindowSize - mmio::kConfig && data.size() <= 8);
  }
  DeviceResult activate(uint64_t features, Queues queues) override {
    FUZZ_CHECK(!active_ && !stopped_);  // once per reset, never on a failed device
    FUZZ_CHECK(queues.size() == queues_);
    uint64_t offered = features_ | virtio::feature::bit(virtio::feature::kVersion1) |
                       virtio::feature::bit(virtio::feature::kIndirectDesc);
    FUZZ_CHECK((features & ~offered) == 0);
    FUZZ_CHECK(features & virtio::feature::bit(virtio::feature::kVersion1));
    active_ = true;
    ++g_activated;
    if (activate_fails_) return std::unexpected("activation refused (as the input asked)");
    return {};
  }
  void reset() override {
    active_ = stopped_ = false;
    ++g_resets;
  }
  void stop() override {
    FUZZ_CHECK(!stopped_);  // the transport stops a device once, then waits for a reset
    stopped_ = true;
    active_ = false;
  }
  DeviceResult process_queue(uint16_t queue, Queues queues) override {
    FUZZ_CHECK(active_ && !stopped_);
    FUZZ_CHECK(queue < queues_ && queues.size() == queues_ && queues[queue].has_value());
    ++g_processed;
    if (++calls_ == fail_at_) return std::unexpected("device failure (as the input asked)");
    auto& q = *queues[queue];
    for (unsigned budget = q.size(); budget > 0; --budget) {
      auto chain = q.pop();
      if (!chain) return std::unexpected(chain.error().message());
      if (!*chain) break;
      if (auto r = q.add_used((*chain)->head, (*chain)->writable_len); !r)
        return std::unexpected(r.error().message());
    }
    return {};
  }
  std::vector<int> watched_fds() override { return {}; }
  DeviceResult on_readable(int, Queues) override {
    FUZZ_CHECK(false);  // no fds were handed out
    return {};
  }

 private:
  uint16_t queues_;
  std::vector<uint16_t> max_;
  uint64_t features_;
  std::vector<uint8_t> config_;
  bool activate_fails_;
  uint8_t fail_at_;
  unsigned calls_ = 0;
  bool active_ = false;
  bool stopped_ = false;
};

struct Rig {
  virtio::MmioTransport* t = nullptr;
  ContractDevice* contract = nullptr;        // null behind virtio-net
  uint32_t queue_sel = 0, features_sel = 0;  // shadows of the selector registers
  std::vector<DriverQueue> queues;           // as op 6 laid them out
  std::vector<uint16_t> next_free;
};

void check_read(Rig& r, uint64_t offset, uint32_t v) {
  switch (offset) {
    case mmio::kMagicValue:
      FUZZ_CHECK(v == mmio::kMagic);
      break;
    case mmio::kVersionReg:
      FUZZ_CHECK(v == mmio::kVersion);
      break;
    case mmio::kDeviceId:
      FUZZ_CHECK(v == (r.contract ? kContractDeviceId : virtio::kDeviceIdNet));
      break;
    case mmio::kInterruptStatus:
      FUZZ_CHECK((v & ~(mmio::kIntUsedBuffer | mmio::kIntConfigChange)) == 0);
      break;
    case mmio::kQueueNumMax:
      if (r.contract && r.queue_sel >= r.contract->num_queues()) FUZZ_CHECK(v == 0);
      if (r.contract && r.queue_sel < r.contract->num_queues())
        FUZZ_CHECK(v == r.contract->max_queue_size(static_cast<uint16_t>(r.queue_sel)));
      break;
    case mmio::kDeviceFeatures:
      if (r.features_sel > 1) FUZZ_CHECK(v == 0);
      if (r.features_sel == 1)
        FUZZ_CHECK(v & virtio::feature::bit(virtio::feature::kVersion1 - 32));
      break;
  }
}

// The whole state, after every operation.
void check_state(Rig& r) {
  uint32_t s = read32(*r.t, mmio::kStatus);
  FUZZ_CHECK((s & ~(st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk |
                    st::kDeviceNeedsReset | st::kFailed)) == 0);
  // §3.1.1's order: each step's bit only with the ones before it.
  if (s & st::kDriver) FUZZ_CHECK(s & st::kAcknowledge);
  if (s & st::kFeaturesOk) FUZZ_CHECK(s & st::kDriver);
  if (s & st::kDriverOk) FUZZ_CHECK(s & st::kFeaturesOk);
  bool failed = r.t->failed();
  FUZZ_CHECK(bool(s & st::kDeviceNeedsReset) == failed);
  if (r.contract) {
    FUZZ_CHECK(r.contract->stopped() == failed);
    FUZZ_CHECK(r.contract->active() == (bool(s & st::kDriverOk) && !failed));
  }
}

void write_at(Rig& r, uint64_t offset, std::span<const uint8_t> data) {
  r.t->write(offset, data);
  if (data.size() != 4) return;
  uint32_t v;
  std::memcpy(&v, data.data(), 4);
  if (offset == mmio::kQueueSel) r.queue_sel = v;
  if (offset == mmio::kDeviceFeaturesSel) r.features_sel = v;
  if (offset == mmio::kStatus && v == 0) {
    // A reset (§4.2.2.1) forgets everything the driver set up.
    r.queue_sel = r.features_sel = 0;
    FUZZ_CHECK(read32(*r.t, mmio::kStatus) == 0);
    FUZZ_CHECK(read32(*r.t, mmio::kInterruptStatus) == 0);
    FUZZ_CHECK(!r.t->failed());
    for (uint32_t q = 0; q < r.t->num_queues(); ++q) {
      write32(*r.t, mmio::kQueueSel, q);
      FUZZ_CHECK(read32(*r.t, mmio::kQueueReady) == 0);
    }
    write32(*r.t, mmio::kQueueSel, 0);
  }
}

void read_at(Rig& r, uint64_t offset, size_t width) {
  uint8_t buf[8];
  r.t->read(offset, {buf, width});
  if (width == 4 && offset % 4 == 0 && offset < mmio::kConfig) {
    uint32_t v;
    std::memcpy(&v, buf, 4);
    check_read(r, offset, v);
  }
}

void probe(Rig& r, const kvm::GuestMemory& mem, uint64_t features, uint8_t size_log2) {
  std::vector<virtio::QueueConfig> configs;
  for (uint32_t q = 0; q < r.t->num_queues(); ++q)
    configs.push_back(
        DriverQueue::layout(static_cast<uint16_t>(1u << (size_log2 % 9)), 0x10000ull * (q + 1)));
  bring_up(*r.t, features, configs);
  r.queue_sel = static_cast<uint32_t>(configs.size() - 1);
  r.features_sel = 0;
  r.queues.clear();
  for (const auto& c : configs) r.queues.emplace_back(mem, c);
  r.next_free.assign(configs.size(), 0);
}

void run(Input& in) {
  FuzzMemory fm(memory_size(in.take<uint8_t>()));
  const auto& mem = fm.mem();
  Rig r;
  std::unique_ptr<virtio::Device> device;
  UniqueFd peer;
  if (in.take<uint8_t>() & 1) {
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    peer.reset(sv[1]);
    auto net = virtio::NetDevice::create(UniqueFd(sv[0]), {2, 0, 0, 0, 0, 1});
    FUZZ_CHECK(net.has_value());
    device = std::move(*net);
  } else {
    auto c = std::make_unique<ContractDevice>(in);
    r.contract = c.get();
    device = std::move(c);
  }
  virtio::MmioTransport transport(mem, std::move(device), -1);
  r.t = &transport;
  bool was_failed = false;
  while (!in.empty()) {
    switch (in.take<uint8_t>() % 8) {
      case 0: {
        size_t width = size_t{1} << (in.take<uint8_t>() % 4);
        uint64_t offset = in.take<uint16_t>() % mmio::kWindowSize;
        uint64_t value = in.take<uint64_t>();
        write_at(r, offset, {reinterpret_cast<const uint8_t*>(&value), width});
        break;
      }
      case 1: {
        size_t width = size_t{1} << (in.take<uint8_t>() % 4);
        read_at(r, in.take<uint16_t>() % mmio::kWindowSize, width);
        break;
      }
      case 2: {
        uint64_t offset = 4u * in.take<uint8_t>() % mmio::kConfig;
        uint32_t value = in.take<uint32_t>();
        write_at(r, offset, {reinterpret_cast<const uint8_t*>(&value), 4});
        break;
      }
      case 3:
        read_at(r, 4u * in.take<uint8_t>() % mmio::kConfig, 4);
        break;
      case 4:
        transport.queue_notify(in.take<uint16_t>());
        break;
      case 5: {
        auto gpa = in.take<uint32_t>();
        mem.write(gpa, in.bytes(in.take<uint16_t>()));
        break;
      }
      case 6: {
        auto features = in.take<uint64_t>();
        probe(r, mem, features, in.take<uint8_t>());
        break;
      }
      case 7: {
        auto q = in.take<uint8_t>();
        virtio::RawDescriptor d{in.take<uint32_t>(), in.take<uint32_t>(), in.take<uint16_t>(), 0};
        if (r.queues.empty()) break;
        q %= r.queues.size();
        auto& dq = r.queues[q];
        uint16_t index = r.next_free[q];
        r.next_free[q] = static_cast<uint16_t>((index + 1) % dq.config().size);
        dq.write_desc(index, d);
        dq.publish(index);
        break;
      }
    }
    check_state(r);
    if (transport.failed() && !was_failed) ++g_failed;
    was_failed = transport.failed();
  }
}

// Seeds, in the encoding above.
Output contract_header(uint16_t max_size, uint8_t fail_at) {
  Output o;
  o.put<uint8_t>(0).put<uint8_t>(0);
  o.put<uint8_t>(1).put<uint16_t>(max_size).put<uint16_t>(max_size);  // two queues
  o.put<uint64_t>(1);                                                 // one device feature
  o.put<uint8_t>(4).put(std::string_view("cfg!"));
  o.put<uint8_t>(0).put<uint8_t>(fail_at);
  return o;
}
void reg_write(Output& o, uint64_t offset, uint32_t v) {
  o.put<uint8_t>(2).put<uint8_t>(static_cast<uint8_t>(offset / 4)).put<uint32_t>(v);
}
void reg_read(Output& o, uint64_t offset) {
  o.put<uint8_t>(3).put<uint8_t>(static_cast<uint8_t>(offset / 4));
}
constexpr uint64_t kV1 = virtio::feature::bit(virtio::feature::kVersion1);

}  // namespace

std::vector<Seed> seeds() {
  std::vector<Seed> out;
  {  // Linux's probe register by register: identification, features, one queue, DRIVER_OK
    Output o = contract_header(256, 0);
    for (uint64_t reg : {mmio::kMagicValue, mmio::kVersionReg, mmio::kDeviceId, mmio::kVendorIdReg})
      reg_read(o, reg);
    reg_write(o, mmio::kStatus, 0);
    reg_write(o, mmio::kStatus, st::kAcknowledge);
    reg_write(o, mmio::kStatus, st::kAcknowledge | st::kDriver);
    for (uint32_t sel : {0u, 1u}) {
      reg_write(o, mmio::kDeviceFeaturesSel, sel);
      reg_read(o, mmio::kDeviceFeatures);
      reg_write(o, mmio::kDriverFeaturesSel, sel);
      reg_write(o, mmio::kDriverFeatures, sel == 0 ? 1 : 1);  // bit 0, VERSION_1
    }
    reg_write(o, mmio::kStatus, st::kAcknowledge | st::kDriver | st::kFeaturesOk);
    reg_read(o, mmio::kStatus);
    reg_write(o, mmio::kQueueSel, 0);
    reg_read(o, mmio::kQueueNumMax);
    reg_write(o, mmio::kQueueNum, 16);
    reg_write(o, mmio::kQueueDescLow, 0x10000);
    reg_write(o, mmio::kQueueDriverLow, 0x10100);
    reg_write(o, mmio::kQueueDeviceLow, 0x11000);
    reg_write(o, mmio::kQueueReady, 1);
    reg_read(o, mmio::kQueueReady);
    reg_write(o, mmio::kStatus, st::kAcknowledge | st::kDriver | st::kFeaturesOk | st::kDriverOk);
    o.put<uint8_t>(1).put<uint8_t>(0).put<uint16_t>(0x100);  // config byte reads
    o.put<uint8_t>(1).put<uint8_t>(3).put<uint16_t>(0x104);
    reg_write(o, mmio::kQueueNotify, 0);
    reg_read(o, mmio::kInterruptStatus);
    reg_write(o, mmio::kInterruptAck, 1);
    out.push_back({"probe-by-registers", o.bytes()});
  }
  {  // the probe macro, chains on both queues, a device failure, then a reset and again
    Output o = contract_header(64, 2);
    o.put<uint8_t>(6).put<uint64_t>(kV1 | 1).put<uint8_t>(4);
    o.put<uint8_t>(7).put<uint8_t>(0).put<uint32_t>(0x40000).put<uint32_t>(100).put<uint16_t>(2);
    o.put<uint8_t>(4).put<uint16_t>(0);
    o.put<uint8_t>(7).put<uint8_t>(1).put<uint32_t>(0x40000).put<uint32_t>(100).put<uint16_t>(0);
    o.put<uint8_t>(4).put<uint16_t>(1);
    reg_write(o, mmio::kStatus, 0);
    o.put<uint8_t>(6).put<uint64_t>(kV1).put<uint8_t>(4);
    o.put<uint8_t>(4).put<uint16_t>(1);
    out.push_back({"fail-and-reset", o.bytes()});
  }
  {  // refused steps: features without VERSION_1, status bits out of order, odd widths
    Output o = contract_header(256, 0);
    reg_write(o, mmio::kStatus, st::kDriverOk);
    reg_write(o, mmio::kStatus, st::kAcknowledge | st::kDriver);
    reg_write(o, mmio::kDriverFeatures, 1);
    reg_write(o, mmio::kStatus, st::kAcknowledge | st::kDriver | st::kFeaturesOk);
    reg_write(o, mmio::kStatus, st::kAcknowledge);
    o.put<uint8_t>(0).put<uint8_t>(1).put<uint16_t>(mmio::kStatus).put<uint64_t>(0xff);
    o.put<uint8_t>(1).put<uint8_t>(3).put<uint16_t>(mmio::kQueueNumMax);
    reg_write(o, mmio::kQueueSel, 7);
    reg_read(o, mmio::kQueueNumMax);
    out.push_back({"refused-steps", o.bytes()});
  }
  {  // virtio-net behind the transport, probed, one TX chain
    Output o;
    o.put<uint8_t>(0).put<uint8_t>(1);
    o.put<uint8_t>(6).put<uint64_t>(kV1 | (1u << 5) | (1u << 16)).put<uint8_t>(8);
    o.put<uint8_t>(7).put<uint8_t>(1).put<uint32_t>(0x40000).put<uint32_t>(64).put<uint16_t>(0);
    o.put<uint8_t>(4).put<uint16_t>(1);
    out.push_back({"net-probe", o.bytes()});
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
