#include "actors/agent_handshake.hpp"

#include <optional>

#include "actors/atoms.hpp"
#include "messages/agent_auth.hpp"
#include "messages/codec.hpp"

namespace berth::actors {

namespace {

// The next frame as a message; an error for a bad frame, a closed link or silence.
std::expected<messages::AgentMessage, std::string> next_message(caf::blocking_actor* self,
                                                                AgentLink& link,
                                                                std::chrono::milliseconds timeout,
                                                                const std::string& waiting_for) {
  std::expected<messages::AgentMessage, std::string> got = std::unexpected(
      "no " + waiting_for + " from the agent within " + std::to_string(timeout.count()) + " ms");
  self->receive(
      [&](frame_atom, std::string& body) {
        link.consumed(body.size());  // the reader's bound (agent_link.hpp)
        got = messages::decode_agent_message(body);
      },
      [&](closed_atom, std::string& reason, bool) { got = std::unexpected(reason); },
      caf::after(timeout) >> [] {});
  return got;
}

}  // namespace

std::expected<void, std::string> open_agent_session(caf::blocking_actor* self, AgentLink& link,
                                                    const std::string& secret,
                                                    const std::string& address,
                                                    std::chrono::milliseconds timeout) {
  auto hello = next_message(self, link, timeout, "hello");
  if (!hello) return std::unexpected(hello.error());
  if (hello->type != messages::AgentMsgType::hello)
    return std::unexpected(std::string("the agent's first message was not hello"));
  if (hello->hello->protocol_version != messages::kAgentProtocolVersion)
    return std::unexpected("the agent speaks protocol " +
                           std::to_string(hello->hello->protocol_version) + ", this worker " +
                           std::to_string(messages::kAgentProtocolVersion));

  auto nonce = messages::random_bytes(messages::kNonceBytes);
  if (!nonce) return std::unexpected("no challenge for the agent: " + nonce.error());
  if (auto s = link.send(messages::make_message(messages::Challenge{*nonce})); !s)
    return std::unexpected(s.error());
  auto answer = next_message(self, link, timeout, "answer to the challenge");
  if (!answer) return std::unexpected("refusing the session: " + answer.error());
  if (answer->type != messages::AgentMsgType::proof)
    return std::unexpected(
        "refusing the session: the agent answered the challenge with message "
        "type " +
        std::to_string(static_cast<int>(answer->type)) + ", not a proof");
  if (!messages::proof_matches(messages::agent_proof(secret, *nonce), answer->proof->mac))
    return std::unexpected("refusing the session: whoever answered at " + address +
                           " did not prove this machine's secret");
  return {};
}

}  // namespace berth::actors
