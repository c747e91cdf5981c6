#include "messages/frame.hpp"

#include <gtest/gtest.h>

#include "messages/codec.hpp"

namespace berth::messages {
namespace {

TEST(Frame, SplitsAStreamFedByteByByte) {
  auto a = frame(make_message(Hello{kWireVersion, "1", 5}));
  auto b = frame(make_message(Cancel{"x"}));
  std::string stream = a + b;
  FrameReader r(kMaxAgentFrameBytes);
  std::vector<std::string> bodies;
  for (char c : stream) {
    r.feed(std::string_view(&c, 1));
    auto f = r.next();
    ASSERT_TRUE(f) << f.error();
    if (*f) bodies.push_back(**f);
  }
  ASSERT_EQ(bodies.size(), 2u);
  auto m = decode_agent_message(bodies[0]);
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(m->hello->uptime_ms, 5);
}

TEST(Frame, OversizedLengthIsAnError) {
  FrameReader r(kMaxExecFrameBytes);
  r.feed(std::string("\xff\xff\xff\xff", 4));
  auto f = r.next();
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().find("exceeds"), std::string::npos);
}

TEST(Frame, TheCallersCapHoldsToTheByte) {
  // At the cap: a frame. One byte over: an error naming both sizes as soon as the length is
  // in, before any of the body is buffered.
  const uint32_t cap = 1000;
  FrameReader at(cap);
  at.feed(frame(std::string(cap, 'x')));
  auto ok = at.next();
  ASSERT_TRUE(ok) << ok.error();
  ASSERT_TRUE(*ok);
  EXPECT_EQ((*ok)->size(), cap);

  FrameReader over(cap);
  over.feed(frame(std::string(cap + 1, 'x')).substr(0, 4));
  auto bad = over.next();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "frame of 1001 bytes exceeds the limit of 1000 bytes");
}

TEST(Frame, TheTwoDirectionsHaveTheirOwnCaps) {
  // What the agent sends is far smaller than what it must accept (exec carries the sources).
  EXPECT_EQ(kMaxAgentFrameBytes, 1u << 20);
  EXPECT_EQ(kMaxExecFrameBytes, 64u << 20);
  FrameReader worker_side(kMaxAgentFrameBytes);
  worker_side.feed(frame(std::string(kMaxAgentFrameBytes + 1, 'x')).substr(0, 4));
  EXPECT_FALSE(worker_side.next());
  FrameReader agent_side(kMaxExecFrameBytes);
  agent_side.feed(frame(std::string(kMaxAgentFrameBytes + 1, 'x')));
  auto f = agent_side.next();
  ASSERT_TRUE(f) << f.error();
  EXPECT_TRUE(*f);
}

}  // namespace
}  // namespace berth::messages
