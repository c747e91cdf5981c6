// The worker's end of the agent session (actors/agent_link.cpp) against a fake agent on a
// socketpair: the reader keeps at most its bound of frames (and bytes) in the owner's mailbox
// and stops reading the socket while that is full, so a flooding agent is held back by the
// socket instead of growing the worker's memory; close() ends a reader that waits for room;
// an over-cap frame ends the session with its size named.
#include "actors/agent_link.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/atoms.hpp"
#include "messages/codec.hpp"
#include "messages/frame.hpp"

namespace berth::actors {
namespace {

using namespace std::chrono_literals;

// The agent's side: writes `frames` (already framed) as one stream, blocking as a socket does
// when the reader stops; `written` counts the frames wholly handed to the kernel.
class FakeAgent {
 public:
  FakeAgent(int fd, std::vector<std::string> frames) : fd_(fd) {
    thread_ = std::thread([this, frames = std::move(frames)] {
      for (const auto& f : frames) {
        size_t off = 0;
        while (off < f.size()) {
          ssize_t n = ::send(fd_, f.data() + off, f.size() - off, MSG_NOSIGNAL);
          if (n < 0) {
            if (errno == EINTR) continue;
            return;  // the worker closed its end
          }
          off += static_cast<size_t>(n);
        }
        ++written;
      }
      done = true;
    });
  }
  ~FakeAgent() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::atomic<size_t> written{0};
  std::atomic<bool> done{false};

 private:
  int fd_;
  std::thread thread_;
};

std::string output_frame(size_t i, size_t data_bytes) {
  std::string data = std::to_string(i) + ":";
  data.resize(std::max(data.size(), data_bytes), 'o');
  return messages::frame(
      messages::make_message(messages::OutputChunk{"run", messages::Stream::stdout_stream, data}));
}

class AgentLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    worker_fd_ = sv[0];
    agent_fd_ = sv[1];
  }
  void TearDown() override {
    if (link_) link_->close();
    agent_.reset();
  }

  void start(std::vector<std::string> frames, AgentLink::Bounds bounds = {}) {
    link_ = AgentLink::adopt(worker_fd_, bounds);
    link_->start_reader(caf::actor_cast<caf::actor>(self_.ptr()));
    agent_ = std::make_unique<FakeAgent>(agent_fd_, std::move(frames));
  }

  // Takes frames from the mailbox until none comes for `quiet`, calling consumed() only when
  // asked to; returns the bodies. A closed message ends the wait and is remembered.
  std::vector<std::string> take(bool consume, std::chrono::milliseconds quiet = 300ms,
                                size_t at_most = SIZE_MAX) {
    std::vector<std::string> got;
    bool more = true;
    while (more && got.size() < at_most) {
      self_->receive(
          [&](frame_atom, std::string& body) {
            if (consume) link_->consumed(body.size());
            got.push_back(std::move(body));
          },
          [&](closed_atom, std::string& why, bool fault) {
            closed_ = why;
            fault_ = fault;
            more = false;
          },
          caf::after(quiet) >> [&] { more = false; });
    }
    return got;
  }

  // Runs link_->close() and fails fast (rather than hanging the suite) if it does not return.
  void close_within(std::chrono::milliseconds limit) {
    auto started = std::chrono::steady_clock::now();
    auto closed = std::async(std::launch::async, [this] { link_->close(); });
    if (closed.wait_for(limit) != std::future_status::ready) {
      std::fprintf(stderr, "AgentLink::close() did not return within %lld ms\n",
                   static_cast<long long>(limit.count()));
      std::fflush(stderr);
      std::_Exit(1);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, limit);
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
  int worker_fd_ = -1, agent_fd_ = -1;
  std::unique_ptr<AgentLink> link_;
  std::unique_ptr<FakeAgent> agent_;
  std::optional<std::string> closed_;
  bool fault_ = false;
};

TEST_F(AgentLinkTest, AFloodOfSmallFramesStopsAtTheFrameBound) {
  // ~1.4 MB of 64-byte chunks: far more than the socket buffers hold, so once the reader
  // stops, the agent's send blocks.
  constexpr size_t kFrames = 20'000;
  std::vector<std::string> frames;
  for (size_t i = 0; i < kFrames; ++i) frames.push_back(output_frame(i, 64));
  start(std::move(frames));
  const size_t bound = link_->bounds().max_frames_in_flight;
  ASSERT_EQ(bound, 64u);

  auto held = take(/*consume=*/false);
  ASSERT_EQ(held.size(), bound) << "frames in the mailbox while the owner consumed none";
  EXPECT_EQ(link_->frames_in_flight(), bound);
  EXPECT_FALSE(agent_->done) << "the agent wrote everything: nothing held it back";
  size_t written = agent_->written;
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(agent_->written, written) << "the reader kept reading the socket while full";

  // One consumed makes room for exactly one more.
  link_->consumed(held.front().size());
  auto one = take(false, 300ms);
  ASSERT_EQ(one.size(), 1u);
  link_->consumed(one.front().size());
  for (size_t i = 1; i < held.size(); ++i) link_->consumed(held[i].size());

  // Now the owner keeps up: everything arrives, in order, never more than the bound ahead.
  auto rest = take(/*consume=*/true, 2s);
  ASSERT_EQ(held.size() + one.size() + rest.size(), kFrames);
  EXPECT_TRUE(agent_->done);
  EXPECT_LE(link_->peak_frames_in_flight(), bound);
  auto last = messages::decode_agent_message(rest.back());
  ASSERT_TRUE(last) << last.error();
  EXPECT_EQ(last->output->data.substr(0, 6), std::to_string(kFrames - 1) + ":");
  EXPECT_FALSE(closed_) << *closed_;
}

TEST_F(AgentLinkTest, AFloodOfLargeFramesStopsAtTheByteBound) {
  // Frames near the frame cap: the byte bound (4 MiB) holds before the frame bound does.
  constexpr size_t kFrames = 40;
  std::vector<std::string> frames;
  for (size_t i = 0; i < kFrames; ++i) frames.push_back(output_frame(i, 900 * 1024));
  const size_t body = frames.front().size() - 4;
  ASSERT_LE(body, messages::kMaxAgentFrameBytes);
  start(std::move(frames));
  const size_t byte_bound = link_->bounds().max_bytes_in_flight;

  auto held = take(false);
  EXPECT_EQ(held.size(), byte_bound / body) << "frames of " << body << " bytes";
  EXPECT_LE(held.size() * body, byte_bound);
  EXPECT_FALSE(agent_->done);

  for (auto& b : held) link_->consumed(b.size());
  auto rest = take(true, 2s);
  EXPECT_EQ(held.size() + rest.size(), kFrames);
  EXPECT_LE(link_->peak_bytes_in_flight(), byte_bound);
  EXPECT_LE(link_->peak_frames_in_flight(), byte_bound / body);
}

TEST_F(AgentLinkTest, CloseEndsAReaderWaitingForRoom) {
  std::vector<std::string> frames;
  for (size_t i = 0; i < 20'000; ++i) frames.push_back(output_frame(i, 64));
  start(std::move(frames));
  auto held = take(false);
  ASSERT_EQ(held.size(), link_->bounds().max_frames_in_flight);
  // The reader is parked in wait_for_room with frames already parsed; the agent is blocked
  // in send. close() must wake it and join at once.
  close_within(1000ms);
  EXPECT_TRUE(take(false, 100ms).empty()) << "no frame after close";
  EXPECT_FALSE(closed_) << "an owner that closed the link is not told it closed";
}

TEST_F(AgentLinkTest, AFrameOverTheCapEndsTheSessionNamingItsSize) {
  // A frame of exactly the cap passes; the next one announces 2,000,000 bytes and sends a few:
  // the session ends as soon as its length is read, without waiting for the body.
  std::vector<std::string> frames = {
      messages::frame(std::string(messages::kMaxAgentFrameBytes, 'x')),
      std::string("\x00\x1e\x84\x80", 4) + "0123456789"};
  start(std::move(frames));
  auto got = take(true, 2s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.front().size(), messages::kMaxAgentFrameBytes);
  ASSERT_TRUE(closed_) << "the session did not end";
  EXPECT_TRUE(fault_) << "an oversized frame is the agent's fault, not a closed connection";
  EXPECT_NE(closed_->find("frame of 2000000 bytes"), std::string::npos) << *closed_;
  EXPECT_NE(closed_->find("limit of 1048576 bytes"), std::string::npos) << *closed_;
}

TEST_F(AgentLinkTest, TheAgentClosingIsNotItsFault) {
  start({output_frame(0, 10)});
  auto got = take(true, 300ms, 1);
  ASSERT_EQ(got.size(), 1u);
  agent_.reset();  // the agent's end shuts down
  take(true, 2s);
  ASSERT_TRUE(closed_);
  EXPECT_FALSE(fault_);
  EXPECT_EQ(*closed_, "the agent closed the connection");
}

}  // namespace
}  // namespace berth::actors
