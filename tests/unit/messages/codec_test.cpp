#include "messages/codec.hpp"

#include <gtest/gtest.h>

#include "messages/job_record.hpp"

namespace berth::messages {
namespace {

JobSpec sample_spec() {
  JobSpec s;
  s.id = "j-1";
  s.language = "python";
  s.files = {{"main.py", "print('hi')"}};
  s.stdin_data = "in";
  s.args = {"a", "b"};
  s.env = {{"K", "V"}};
  s.limits.wall_ms = 1234;
  return s;
}

TEST(Codec, JobRecordRoundTrips) {
  JobRecord r;
  r.spec = sample_spec();
  r.state = JobState::finished;
  r.plan = {{"image", Phase::prepare, NodeStatus::done, 1, 2, "key"}};
  Result res;
  res.verdict = Verdict::runtime_error;
  res.exit_code = 3;
  res.stdout_data = std::string("\0bin", 4);
  r.result = res;
  auto back = decode<JobRecord>(encode(r), "job record");
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->spec.files[0].content, "print('hi')");
  EXPECT_EQ(back->spec.limits.wall_ms, 1234u);
  EXPECT_EQ(back->state, JobState::finished);
  ASSERT_TRUE(back->result);
  EXPECT_EQ(back->result->exit_code, 3);
  EXPECT_FALSE(back->result->signal);
  EXPECT_EQ(back->result->stdout_data, std::string("\0bin", 4));
  EXPECT_EQ(back->plan[0].detail, "key");
}

TEST(Codec, TruncatedBytesAreAnError) {
  auto bytes = encode(sample_spec());
  for (size_t n : {size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    auto r = decode<JobSpec>(std::string_view(bytes).substr(0, n), "job spec");
    ASSERT_FALSE(r) << "length " << n;
    EXPECT_NE(r.error().find("job spec"), std::string::npos) << r.error();
  }
  EXPECT_FALSE(decode<JobSpec>("", "job spec"));
}

TEST(Codec, WrongTypesAreAnError) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(2);
  pk.pack(std::string("version"));
  pk.pack(1);
  pk.pack(std::string("language"));
  pk.pack(42);  // a number where a string belongs
  auto r = decode<JobSpec>(std::string_view(buf.data(), buf.size()), "job spec");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("wrong type"), std::string::npos) << r.error();
}

TEST(Codec, NotAMapIsAnError) {
  auto bytes = encode(std::string("hello"));
  auto r = decode<JobSpec>(bytes, "job spec");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not a msgpack map"), std::string::npos) << r.error();
}

TEST(Codec, UnknownVersionIsAnError) {
  auto spec = sample_spec();
  spec.version = 99;
  auto r = decode<JobSpec>(encode(spec), "job spec");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("unknown version 99"), std::string::npos) << r.error();
}

TEST(Codec, TrailingBytesAreAnError) {
  auto bytes = encode(sample_spec()) + "x";
  EXPECT_FALSE(decode<JobSpec>(bytes, "job spec"));
}

TEST(Codec, AgentMessageNeedsItsBody) {
  AgentMessage m;
  m.type = AgentMsgType::exec;  // but no exec member
  auto r = decode_agent_message(encode(m));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("without its body"), std::string::npos) << r.error();
  auto ok = decode_agent_message(encode(make_message(Cancel{"user"})));
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->cancel->reason, "user");
}

// JobEvent as it was before `truncated`: what a worker of the previous release publishes.
struct JobEventWithoutTruncated {
  uint32_t version = kWireVersion;
  std::string job_id;
  EventKind kind = EventKind::output;
  JobState state = JobState::running;
  Stream stream = Stream::stderr_stream;
  std::string data;
  std::string step;
  uint64_t seq = 0;
  MSGPACK_DEFINE_MAP(version, job_id, kind, state, stream, data, step, seq);
};

TEST(Codec, JobEventTruncatedIsACompatibleAddition) {
  JobEvent e;
  e.kind = EventKind::output;
  e.data = "tail";
  e.truncated = true;
  auto back = decode<JobEvent>(encode(e), "JobEvent");
  ASSERT_TRUE(back) << back.error();
  EXPECT_TRUE(back->truncated);
  EXPECT_EQ(back->data, "tail");

  JobEventWithoutTruncated old;
  old.data = "x";
  auto from_old = decode<JobEvent>(encode(old), "JobEvent");
  ASSERT_TRUE(from_old) << from_old.error();
  EXPECT_FALSE(from_old->truncated);
  EXPECT_EQ(from_old->data, "x");
  auto by_old = decode<JobEventWithoutTruncated>(encode(e), "JobEvent");
  ASSERT_TRUE(by_old) << by_old.error();
  EXPECT_EQ(by_old->data, "tail");
}

// Found by tests/fuzz/agent_frames_fuzz.cpp (corpus/agent_frames/regress-map-claims-128gib): a
// header claiming more elements than the message has bytes used to be allocated for in full
// before the parse found the message truncated. Refused now, naming the claim, not bad_alloc.
TEST(Codec, ContainerClaimsBeyondTheMessageAreRefusedBeforeAllocating) {
  for (std::string bytes : {
           std::string("\xdf\xff\xff\xff\xff", 5),               // map of 2^32 - 1 pairs: 128 GiB
           std::string("\x81\xa4type\xdd\x06\x00\x00\x00", 11),  // array of 100M: 1.6 GB
           std::string("\x81\xa1x\x9f\x00", 5),                  // {x: array of 15} in 5 bytes
       }) {
    auto r = decode_agent_message(bytes);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("claim more elements"), std::string::npos) << r.error();
  }
  // Exactly as many elements as bytes allow is still a message (it fails later, on its type).
  auto fits = decode_agent_message(std::string("\x81\xa1x\x92\x91\x00\x00", 7));
  ASSERT_FALSE(fits.has_value());
  EXPECT_EQ(fits.error().find("claim more elements"), std::string::npos) << fits.error();
}

TEST(Codec, VerdictNamesRoundTrip) {
  for (int i = 0; i <= 7; ++i) {
    auto v = static_cast<Verdict>(i);
    EXPECT_EQ(verdict_from_string(to_string(v)), v);
  }
  EXPECT_FALSE(verdict_from_string("bogus"));
}

}  // namespace
}  // namespace berth::messages
