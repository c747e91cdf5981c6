#pragma once
// The supervisor's end of the agent session: a TCP connection to the agent at the machine's
// address. Writes happen on the supervisor's thread; a reader thread owned by the link turns
// incoming frames into (frame_atom, body) messages and the end of the stream into
// (closed_atom, why, agent_fault), so the supervisor never blocks on the socket.
//
// The agent shares its machine with the job, so what it sends is bounded here, not trusted
// (the limits are AgentLinkBounds):
// - a frame longer than max_frame_bytes ends the session (closed_atom with agent_fault = true
//   and the frame's size in `why`) before its body is read;
// - at most max_frames_in_flight frames, and at most max_bytes_in_flight bytes of them (or one
//   frame, if it alone is larger), are in the owner's mailbox at once. The owner calls
//   consumed() for each frame it takes; while the bound is reached the reader stops reading
//   the socket, the kernel's receive buffer fills and TCP's window closes, so the agent (which
//   then stops reading the job's pipes) and the job wait instead of the worker's memory
//   growing.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "messages/agent_protocol.hpp"

namespace berth::actors {

// What the reader lets the agent put in the worker's memory (see above).
struct AgentLinkBounds {
  uint32_t max_frame_bytes = messages::kMaxAgentFrameBytes;
  // 64 output chunks of the agent's largest size (64 KiB) are 4 MiB: enough for the
  // supervisor to keep a busy job streaming, small enough that many jobs on one worker
  // cannot run it out of memory.
  size_t max_frames_in_flight = 64;
  size_t max_bytes_in_flight = 4u << 20;
};

class AgentLink {
 public:
  using Bounds = AgentLinkBounds;

  // Retries until the agent accepts or `timeout` passes; `alive` is asked between tries so a
  // machine that died is noticed at once.
  static std::expected<std::unique_ptr<AgentLink>, std::string> connect(
      const std::string& ip, uint16_t port, std::chrono::milliseconds timeout,
      const std::function<bool()>& alive, Bounds bounds = {});
  // A link over an already connected stream socket, which it owns (tests use a socketpair).
  static std::unique_ptr<AgentLink> adopt(int fd, Bounds bounds = {});
  ~AgentLink();

  void start_reader(caf::actor owner);
  // The owner took a (frame_atom, body) message of `bytes` bytes out of its mailbox.
  void consumed(size_t bytes);
  std::expected<void, std::string> send(const messages::AgentMessage& msg);
  // Stops the reader (also while it waits for room) and closes the socket; idempotent.
  void close();

  const Bounds& bounds() const { return bounds_; }
  // Frames sent to the owner and not yet consumed, and the most there ever were.
  size_t frames_in_flight() const;
  size_t peak_frames_in_flight() const;
  size_t peak_bytes_in_flight() const;

 private:
  AgentLink(int fd, Bounds bounds) : fd_(fd), bounds_(bounds) {}
  void read_loop(caf::actor owner);
  // Blocks until a frame of `bytes` fits within the bounds (then counts it) or the link
  // closes (false).
  bool wait_for_room(size_t bytes);

  int fd_;
  const Bounds bounds_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable room_;
  bool closing_ = false;  // guarded by mu_, as are the counters
  size_t frames_in_flight_ = 0, bytes_in_flight_ = 0;
  size_t peak_frames_ = 0, peak_bytes_ = 0;
};

}  // namespace berth::actors
