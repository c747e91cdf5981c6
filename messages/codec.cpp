#include "messages/codec.hpp"

namespace berth::messages {

namespace {

// msgpack::unpack allocates every array and map as soon as it reads the header, for as many
// elements as the header claims (16 bytes each), before a single element is read. A peer's
// 5-byte map header claiming 2^32 pairs thus asked for 128 GiB (found by
// tests/fuzz/agent_frames_fuzz.cpp), and nested headers in a frame of a few MiB for terabytes.
// Every element takes at least one byte of the message, so a message holds no more elements,
// all containers together, than it has bytes: this visitor adds up the claims in a parse that
// allocates nothing, and stops at the first that exceeds what the message can hold.
class ClaimCounter : public msgpack::v2::null_visitor {
 public:
  explicit ClaimCounter(uint64_t budget) : budget_(budget) {}
  bool start_array(uint32_t elements) { return claim(elements); }
  bool start_map(uint32_t pairs) { return claim(uint64_t{pairs} * 2); }
  bool over() const { return over_; }

 private:
  bool claim(uint64_t n) {
    if (n > budget_) {
      over_ = true;
      return false;  // stops the parse
    }
    budget_ -= n;
    return true;
  }
  uint64_t budget_;
  bool over_ = false;
};

}  // namespace

std::expected<msgpack::object_handle, std::string> parse_msgpack(std::string_view bytes,
                                                                 std::string_view what) {
  if (bytes.empty()) return std::unexpected(std::string(what) + ": empty message");
  try {
    ClaimCounter claims(bytes.size());
    size_t scanned = 0;
    // Truncated or malformed bytes end this scan early; the unpack below says what was wrong.
    msgpack::v2::parse(bytes.data(), bytes.size(), scanned, claims);
    if (claims.over())
      return std::unexpected(std::string(what) +
                             ": malformed msgpack (its arrays and maps claim more elements than "
                             "its " +
                             std::to_string(bytes.size()) + " bytes can hold)");
    size_t offset = 0;
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), offset);
    if (offset != bytes.size())
      return std::unexpected(std::string(what) + ": " + std::to_string(bytes.size() - offset) +
                             " trailing bytes after the message");
    if (handle.get().type != msgpack::type::MAP)
      return std::unexpected(std::string(what) + ": not a msgpack map");
    return handle;
  } catch (const msgpack::insufficient_bytes&) {
    return std::unexpected(std::string(what) + ": truncated message");
  } catch (const std::exception& e) {
    return std::unexpected(std::string(what) + ": malformed msgpack (" + e.what() + ")");
  }
}

std::expected<AgentMessage, std::string> decode_agent_message(std::string_view bytes) {
  auto msg = decode<AgentMessage>(bytes, "agent message");
  if (!msg) return msg;
  bool present = false;
  switch (msg->type) {
    case AgentMsgType::hello:
      present = msg->hello.has_value();
      break;
    case AgentMsgType::exec:
      present = msg->exec.has_value();
      break;
    case AgentMsgType::output:
      present = msg->output.has_value();
      break;
    case AgentMsgType::exit:
      present = msg->exit.has_value();
      break;
    case AgentMsgType::cancel:
      present = msg->cancel.has_value();
      break;
    case AgentMsgType::challenge:
      present = msg->challenge.has_value();
      break;
    case AgentMsgType::proof:
      present = msg->proof.has_value();
      break;
    default:
      return std::unexpected("agent message: unknown type " +
                             std::to_string(static_cast<int>(msg->type)));
  }
  if (!present)
    return std::unexpected("agent message: type " + std::to_string(static_cast<int>(msg->type)) +
                           " without its body");
  return msg;
}

AgentMessage make_message(Hello m) {
  AgentMessage a;
  a.type = AgentMsgType::hello;
  a.hello = std::move(m);
  return a;
}
AgentMessage make_message(ExecStep m) {
  AgentMessage a;
  a.type = AgentMsgType::exec;
  a.exec = std::move(m);
  return a;
}
AgentMessage make_message(OutputChunk m) {
  AgentMessage a;
  a.type = AgentMsgType::output;
  a.output = std::move(m);
  return a;
}
AgentMessage make_message(StepExit m) {
  AgentMessage a;
  a.type = AgentMsgType::exit;
  a.exit = std::move(m);
  return a;
}
AgentMessage make_message(Cancel m) {
  AgentMessage a;
  a.type = AgentMsgType::cancel;
  a.cancel = std::move(m);
  return a;
}
AgentMessage make_message(Challenge m) {
  AgentMessage a;
  a.type = AgentMsgType::challenge;
  a.challenge = std::move(m);
  return a;
}
AgentMessage make_message(Proof m) {
  AgentMessage a;
  a.type = AgentMsgType::proof;
  a.proof = std::move(m);
  return a;
}

}  // namespace berth::messages
