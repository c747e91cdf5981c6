#include "messages/codec.hpp"

namespace berth::messages {

std::expected<msgpack::object_handle, std::string> parse_msgpack(std::string_view bytes,
                                                                 std::string_view what) {
  if (bytes.empty()) return std::unexpected(std::string(what) + ": empty message");
  try {
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
