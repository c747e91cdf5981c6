// JobEvents (actors/job_events.cpp) publishes output only up to the job's output_bytes per step
// kind and stream, with one truncation marker, however much a broken or hostile agent sends.
#include "actors/job_events.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "messages/codec.hpp"
#include "messages/subjects.hpp"

namespace berth::actors {
namespace {

using messages::EventKind;
using messages::JobEvent;
using messages::OutputChunk;
using messages::Stream;

class JobEventsTest : public ::testing::Test {
 protected:
  JobEvents make(uint64_t cap) {
    return JobEvents(
        [this](std::string_view subject,
               std::string_view body) -> std::expected<void, std::string> {
          EXPECT_EQ(subject, messages::events_subject("j-1"));
          auto e = messages::decode<JobEvent>(body, "JobEvent");
          EXPECT_TRUE(e) << e.error();
          if (e) published.push_back(std::move(*e));
          return {};
        },
        "j-1", cap);
  }
  // Output bytes published for one step and stream.
  size_t bytes(const std::string& step, Stream s) const {
    size_t n = 0;
    for (auto& e : published)
      if (e.kind == EventKind::output && e.step == step && e.stream == s) n += e.data.size();
    return n;
  }
  size_t markers() const {
    size_t n = 0;
    for (auto& e : published) n += e.truncated ? 1 : 0;
    return n;
  }
  std::vector<JobEvent> published;
};

TEST_F(JobEventsTest, OutputWithinTheCapIsPublishedWhole) {
  auto ev = make(10);
  ev.output({"run", Stream::stdout_stream, "hello"});
  ev.output({"run", Stream::stdout_stream, "world"});  // exactly the cap
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[1].data, "world");
  EXPECT_EQ(markers(), 0u);
  EXPECT_EQ(published[0].seq + 1, published[1].seq);
}

TEST_F(JobEventsTest, AFloodPastTheCapIsCutWithOneMarker) {
  // As a hostile agent would: 1,000 chunks of 64 KiB on one stream, a cap of 100,000 bytes.
  const uint64_t cap = 100'000;
  auto ev = make(cap);
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 1000; ++i) ev.output({"run", Stream::stdout_stream, chunk});
  EXPECT_EQ(bytes("run", Stream::stdout_stream), cap);
  ASSERT_EQ(published.size(), 2u) << "one full chunk, then the part that fits with the marker";
  EXPECT_FALSE(published[0].truncated);
  EXPECT_TRUE(published[1].truncated);
  EXPECT_EQ(published[1].data.size(), cap - chunk.size());
  EXPECT_EQ(markers(), 1u);
}

TEST_F(JobEventsTest, EachStreamAndStepKindHasItsOwnBudget) {
  auto ev = make(4);
  ev.output({"compile", Stream::stderr_stream, "warning"});
  ev.output({"run", Stream::stdout_stream, "abcdef"});
  ev.output({"run", Stream::stderr_stream, "ab"});
  ev.output({"run", Stream::stderr_stream, "cdef"});
  EXPECT_EQ(bytes("compile", Stream::stderr_stream), 4u);
  EXPECT_EQ(bytes("run", Stream::stdout_stream), 4u);
  EXPECT_EQ(bytes("run", Stream::stderr_stream), 4u);
  EXPECT_EQ(markers(), 3u);
}

TEST_F(JobEventsTest, MadeUpStepNamesShareTheRunBudget) {
  // The agent names the step; new names must not buy new budgets.
  auto ev = make(8);
  for (int i = 0; i < 100; ++i)
    ev.output({"step-" + std::to_string(i), Stream::stdout_stream, "12345"});
  EXPECT_EQ(bytes("run", Stream::stdout_stream), 8u);
  for (auto& e : published) EXPECT_EQ(e.step, "run");
  EXPECT_EQ(published.size(), 2u);
}

TEST_F(JobEventsTest, StateEventsAreNotCapped) {
  auto ev = make(1);
  ev.output({"run", Stream::stdout_stream, "too much"});
  ev.state(messages::JobState::finished);
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[1].kind, EventKind::state);
  EXPECT_EQ(published[1].state, messages::JobState::finished);
}

}  // namespace
}  // namespace berth::actors
