#pragma once
// The agent protocol: length-prefixed msgpack frames over one TCP connection from the
// supervisor to the agent (docs/architecture.md, "Agent protocol").
//
//   agent      -> supervisor  hello     (once, as soon as the connection is accepted)
//   supervisor -> agent       challenge (once: prove you hold this machine's secret)
//   agent      -> supervisor  proof     (messages/agent_auth.hpp; no exec before it matched)
//   supervisor -> agent       exec      (one per step: compile, then run)
//   agent      -> supervisor  output* (chunks of the step's stdout/stderr)
//   agent      -> supervisor  exit    (the step's outcome)
//   supervisor -> agent       cancel  (any time; the agent kills the step and answers exit)
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "messages/job_event.hpp"
#include "messages/job_spec.hpp"
#include "messages/limits.hpp"
#include "messages/result.hpp"
#include "messages/version.hpp"

namespace berth::messages {

inline constexpr uint16_t kAgentPort = 7070;
// The largest frame each side reads (messages/frame.hpp); each reader is built with its own.
//
// Worker -> agent: `exec` carries the step's source files and stdin, so its cap must hold the
// largest job spec that can reach a worker. The spec came through JetStream, whose messages
// are at most nats-server's max_payload (64 MiB in deploy/nats-server.conf, which the output
// cap needs anyway); the gateway's own limit (max_body_bytes, 8 MiB by default) is lower but
// an operator may raise it, and berth.api.submit is bounded only by max_payload. The agent's
// peer is the worker, not the job, so a generous cap costs no safety there.
inline constexpr uint32_t kMaxExecFrameBytes = 64u << 20;
// Agent -> worker: hello, `output` chunks (at most 64 KiB of data, the agent's read size),
// `exit` (a few short strings). 1 MiB is 16 times the largest of them, so no legitimate frame
// comes near it, while a guest taken over by its job (the agent runs beside hostile code) can
// make the worker buffer, and decode, no more than that per frame — decoding matters: each
// msgpack object takes 24 bytes however few bytes encoded it, so a frame of one-byte elements
// decodes to ~24 times its size.
inline constexpr uint32_t kMaxAgentFrameBytes = 1u << 20;

// Wire values are pinned: never renumber.
enum class AgentMsgType : uint8_t {
  hello = 0,
  exec = 1,
  output = 2,
  exit = 3,
  cancel = 4,
  challenge = 5,
  proof = 6
};

// Version 2 added challenge and proof; a supervisor refuses agents that speak another.
inline constexpr uint32_t kAgentProtocolVersion = 2;

struct Hello {
  uint32_t protocol_version = kAgentProtocolVersion;
  std::string agent_version;
  int64_t uptime_ms = 0;  // how long the machine took to reach the agent
  MSGPACK_DEFINE_MAP(protocol_version, agent_version, uptime_ms);
};

struct ExecStep {
  std::string step;  // "compile" or "run"
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::vector<SourceFile> files;  // written into the work dir before the step starts
  std::string stdin_data;
  Limits limits;
  MSGPACK_DEFINE_MAP(step, argv, env, files, stdin_data, limits);
};

struct OutputChunk {
  std::string step;
  Stream stream = Stream::stdout_stream;
  std::string data;
  MSGPACK_DEFINE_MAP(step, stream, data);
};

struct StepExit {
  std::string step;
  Verdict verdict = Verdict::internal_error;
  std::optional<int32_t> exit_code;
  std::optional<int32_t> signal;
  uint64_t cpu_ms = 0;
  uint64_t wall_ms = 0;
  uint64_t peak_memory_kib = 0;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::string message;
  MSGPACK_DEFINE_MAP(step, verdict, exit_code, signal, cpu_ms, wall_ms, peak_memory_kib,
                     stdout_truncated, stderr_truncated, message);
};

struct Cancel {
  std::string reason;
  MSGPACK_DEFINE_MAP(reason);
};

struct Challenge {
  std::string nonce;  // kNonceBytes random bytes
  MSGPACK_DEFINE_MAP(nonce);
};

struct Proof {
  std::string mac;  // agent_proof(secret, nonce)
  MSGPACK_DEFINE_MAP(mac);
};

// One frame's body. Exactly the member named by `type` is set; decode_agent_message checks.
struct AgentMessage {
  uint32_t version = kWireVersion;
  AgentMsgType type = AgentMsgType::hello;
  std::optional<Hello> hello;
  std::optional<ExecStep> exec;
  std::optional<OutputChunk> output;
  std::optional<StepExit> exit;
  std::optional<Cancel> cancel;
  std::optional<Challenge> challenge;
  std::optional<Proof> proof;
  MSGPACK_DEFINE_MAP(version, type, hello, exec, output, exit, cancel, challenge, proof);
};

AgentMessage make_message(Hello m);
AgentMessage make_message(ExecStep m);
AgentMessage make_message(OutputChunk m);
AgentMessage make_message(StepExit m);
AgentMessage make_message(Cancel m);
AgentMessage make_message(Challenge m);
AgentMessage make_message(Proof m);

}  // namespace berth::messages

MSGPACK_ADD_ENUM(berth::messages::AgentMsgType);
