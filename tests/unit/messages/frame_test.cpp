#include "messages/frame.hpp"

#include <gtest/gtest.h>

#include "messages/codec.hpp"

namespace berth::messages {
namespace {

TEST(Frame, SplitsAStreamFedByteByByte) {
  auto a = frame(make_message(Hello{kWireVersion, "1", 5}));
  auto b = frame(make_message(Cancel{"x"}));
  std::string stream = a + b;
  FrameReader r;
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
  FrameReader r;
  r.feed(std::string("\xff\xff\xff\xff", 4));
  auto f = r.next();
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().find("exceeds"), std::string::npos);
}

}  // namespace
}  // namespace berth::messages
