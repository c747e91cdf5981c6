// Fuzz target: the worker's side of the agent protocol (messages/frame.cpp, codec.cpp): the
// bytes a guest's agent sends arrive in whatever pieces TCP makes of them, go through a
// FrameReader (actors/agent_link.cpp's reader thread) and every frame through
// decode_agent_message (actors/vm_supervisor.cpp). Everything in them is the guest's choice.
//
// Input: u8 n (mod 17), then n chunk sizes (u8 each, size + 1), then the stream. The stream is
// fed in chunks of those sizes, round and round (all of it at once when n is 0).
//
// Checked beyond "no crash": the frames and the error (if any) are the same however the
// stream is split (a reader that fed it whole is the reference); re-framing each body gives
// back the bytes it came from; and a message that decodes encodes to bytes that decode again
// to the same encoding.
#include <optional>
#include <string>
#include <vector>

#include "messages/codec.hpp"
#include "messages/frame.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace berth::fuzz {
namespace {

namespace msg = berth::messages;

Tally g_frames("frames");
Tally g_decoded("messages decoded");
Tally g_refused("messages refused");
Tally g_stream_errors("streams refused");

struct Outcome {
  std::vector<std::string> frames;
  bool error = false;
};

// Takes every whole frame the reader has; false once it reports an error.
bool drain(msg::FrameReader& r, Outcome& out) {
  for (;;) {
    auto f = r.next();
    if (!f) {
      out.error = true;
      return false;
    }
    if (!*f) return true;
    out.frames.push_back(std::move(**f));
  }
}

void check_message(const std::string& body) {
  auto m = msg::decode_agent_message(body);
  if (!m) {
    ++g_refused;
    return;
  }
  ++g_decoded;
  std::string once = msg::encode(*m);
  auto again = msg::decode_agent_message(once);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(msg::encode(*again) == once);
}

void run(Input& in) {
  std::vector<size_t> sizes;
  for (unsigned n = in.take<uint8_t>() % 17; n > 0; --n) sizes.push_back(in.take<uint8_t>() + 1u);
  auto stream = in.rest();
  std::string_view bytes(reinterpret_cast<const char*>(stream.data()), stream.size());

  Outcome whole;
  // The worker's side: the cap it reads agent frames with (actors/agent_link.cpp).
  msg::FrameReader reference(msg::kMaxAgentFrameBytes);
  reference.feed(bytes);
  drain(reference, whole);

  Outcome chunked;
  msg::FrameReader reader(msg::kMaxAgentFrameBytes);
  reader.feed({});
  for (size_t pos = 0, i = 0; pos < bytes.size(); ++i) {
    size_t n = sizes.empty() ? bytes.size() : sizes[i % sizes.size()];
    auto piece = bytes.substr(pos, n);
    pos += piece.size();
    reader.feed(piece);
    if (!drain(reader, chunked)) break;
  }

  FUZZ_CHECK(chunked.error == whole.error);
  FUZZ_CHECK(chunked.frames == whole.frames);
  if (whole.error) ++g_stream_errors;
  size_t pos = 0;
  for (const auto& body : whole.frames) {
    ++g_frames;
    std::string framed = msg::frame(body);
    FUZZ_CHECK(bytes.substr(pos, framed.size()) == framed);
    pos += framed.size();
    check_message(body);
  }
}

// Seeds: a chunking and a stream of frames.
Seed stream(std::string name, std::vector<uint8_t> chunks, const std::vector<std::string>& frames) {
  Output o;
  o.put<uint8_t>(static_cast<uint8_t>(chunks.size()));
  for (auto c : chunks) o.put<uint8_t>(static_cast<uint8_t>(c - 1));
  for (const auto& f : frames) o.put(f);
  return {std::move(name), o.bytes()};
}

}  // namespace

std::vector<Seed> seeds() {
  msg::Hello hello;
  hello.agent_version = "0.1.0";
  hello.uptime_ms = 812;
  msg::OutputChunk out;
  out.step = "run";
  out.data = "Hello, world!\n";
  msg::OutputChunk err = out;
  err.stream = msg::Stream::stderr_stream;
  err.data = "Traceback (most recent call last):\n";
  msg::StepExit exit;
  exit.step = "run";
  exit.verdict = msg::Verdict::ok;
  exit.exit_code = 0;
  exit.cpu_ms = 17;
  exit.wall_ms = 23;
  exit.peak_memory_kib = 9120;
  msg::StepExit killed = exit;
  killed.verdict = msg::Verdict::time_limit;
  killed.exit_code.reset();
  killed.signal = 9;
  killed.stdout_truncated = true;
  killed.message = "wall limit of 5000 ms reached";
  msg::ExecStep exec;  // the agent never sends one, but the decoder takes every type
  exec.step = "compile";
  exec.argv = {"gcc", "-O2", "main.c"};
  exec.env = {{"PATH", "/usr/bin"}};
  exec.files = {{"main.c", "int main(){}"}};
  std::string session = msg::frame(msg::make_message(hello)) + msg::frame(msg::make_message(out)) +
                        msg::frame(msg::make_message(err)) + msg::frame(msg::make_message(exit));
  std::vector<Seed> s;
  s.push_back(stream("session-whole", {}, {session}));
  s.push_back(stream("session-bytewise", {1}, {session}));
  s.push_back(stream("session-odd-chunks", {3, 7, 1, 200, 5}, {session}));
  s.push_back(stream("killed", {4}, {msg::frame(msg::make_message(killed))}));
  s.push_back(stream("exec-and-cancel", {9, 2},
                     {msg::frame(msg::make_message(exec)),
                      msg::frame(msg::make_message(msg::Cancel{"cancelled by request"}))}));
  // A frame whose length is over the limit, one that is not msgpack, one truncated.
  s.push_back(stream("oversized", {2}, {std::string("\x04\x00\x00\x01", 4)}));
  s.push_back(stream("not-msgpack", {}, {msg::frame("\xc1garbage")}));
  s.push_back(stream("truncated", {5}, {msg::frame(msg::make_message(out)).substr(0, 20)}));
  return s;
}

}  // namespace berth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::Input in(data, size);
  berth::fuzz::run(in);
  return 0;
}
