#pragma once
// What a jailed monitor process (berth-monitor, vmm/kvm/monitor/) tells the worker that
// spawned it, one msgpack MonitorEvent per datagram of a SOCK_SEQPACKET socketpair:
//
//   started             the VM runs (its vCPUs entered the guest)
//   console  text       serial output as the guest writes it (dropped when the worker lags)
//   exit     reason, text, run_ms, console_tail
//                       how the VM ended; the process exits right after
//   failed   text       the monitor could not jail itself or start the VM
//
// The worker never sends anything: it ends the VM by SIGKILL, which the jailed process cannot
// refuse, and the kernel then frees the guest's memory, the TAP's last fd and everything else.
#include <cstdint>
#include <string>

#include <msgpack.hpp>

namespace berth::messages {

enum class MonitorEventType : uint8_t { started = 0, console = 1, exit = 2, failed = 3 };

struct MonitorEvent {
  MonitorEventType type = MonitorEventType::failed;
  std::string text;
  std::string reason;  // exit: vmm::kvm::to_string(ExitReason)
  int64_t run_ms = 0;
  std::string console_tail;
  MSGPACK_DEFINE_MAP(type, text, reason, run_ms, console_tail);
};

// A datagram is at most this long (a console chunk is cut to fit).
inline constexpr size_t kMonitorEventMax = 16 * 1024;

}  // namespace berth::messages

MSGPACK_ADD_ENUM(berth::messages::MonitorEventType);
