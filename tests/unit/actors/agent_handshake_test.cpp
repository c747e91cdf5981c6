// The supervisor's opening of an agent session (actors/agent_handshake.cpp), against a fake agent
// on loopback: only one that proves the machine's secret gets a session. Each refusal test
// fails if the check it names is removed: the impostors answer everything else correctly.
#include "actors/agent_handshake.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "messages/agent_auth.hpp"
#include "messages/codec.hpp"
#include "messages/frame.hpp"

namespace berth::actors {
namespace {

using namespace std::chrono_literals;

enum class Answer { right_proof, wrong_secret, replayed_nonce, silence, not_a_proof };

// Accepts one connection, says hello, reads the challenge and answers it as `answer` says.
class FakeAgent {
 public:
  FakeAgent(std::string secret, Answer answer, uint32_t protocol = messages::kAgentProtocolVersion)
      : secret_(std::move(secret)), answer_(answer), protocol_(protocol) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 1);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeAgent() {
    shutdown(listen_fd_, SHUT_RDWR);
    if (conn_fd_ >= 0) shutdown(conn_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
    if (conn_fd_ >= 0) close(conn_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void send(const messages::AgentMessage& m) {
    auto bytes = messages::frame(m);
    (void)!write(conn_fd_, bytes.data(), bytes.size());
  }
  void serve() {
    conn_fd_ = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn_fd_ < 0) return;
    send(messages::make_message(messages::Hello{protocol_, "fake", 1}));
    messages::FrameReader reader(messages::kMaxExecFrameBytes);
    std::optional<std::string> body;
    char buf[4096];
    while (!body) {
      ssize_t n = read(conn_fd_, buf, sizeof buf);
      if (n <= 0) return;
      reader.feed({buf, static_cast<size_t>(n)});
      auto f = reader.next();
      if (!f) return;
      body = *f;
    }
    auto m = messages::decode_agent_message(*body);
    if (!m || m->type != messages::AgentMsgType::challenge) return;
    const auto& nonce = m->challenge->nonce;
    switch (answer_) {
      case Answer::right_proof:
        send(messages::make_message(messages::Proof{messages::agent_proof(secret_, nonce)}));
        break;
      case Answer::wrong_secret:
        send(messages::make_message(
            messages::Proof{messages::agent_proof(std::string(32, 'x'), nonce)}));
        break;
      case Answer::replayed_nonce:  // a proof that was right for another challenge
        send(messages::make_message(
            messages::Proof{messages::agent_proof(secret_, std::string(32, '\0'))}));
        break;
      case Answer::not_a_proof:
        send(messages::make_message(messages::Hello{protocol_, "fake", 1}));
        break;
      case Answer::silence:
        break;
    }
    // Stay connected until the test is done, as a live impostor would.
    while (read(conn_fd_, buf, sizeof buf) > 0) {
    }
  }

  std::string secret_;
  Answer answer_;
  uint32_t protocol_;
  int listen_fd_ = -1, conn_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

class AgentHandshake : public ::testing::Test {
 protected:
  std::expected<void, std::string> open(FakeAgent& agent, const std::string& secret) {
    caf::scoped_actor self{sys_};
    auto link = AgentLink::connect("127.0.0.1", agent.port(), 2s, [] { return true; });
    if (!link) return std::unexpected(link.error());
    (*link)->start_reader(caf::actor_cast<caf::actor>(self.ptr()));
    auto r = open_agent_session(self.ptr(), **link, secret, "127.0.0.1", 1s);
    (*link)->close();
    return r;
  }
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  std::string secret_ = *messages::random_bytes(messages::kSecretBytes);
};

TEST_F(AgentHandshake, TheMachinesOwnAgentGetsASession) {
  FakeAgent agent(secret_, Answer::right_proof);
  auto r = open(agent, secret_);
  EXPECT_TRUE(r) << r.error();
}

TEST_F(AgentHandshake, AnImpostorWithoutTheSecretIsRefused) {
  FakeAgent agent(secret_, Answer::wrong_secret);
  auto r = open(agent, secret_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("did not prove this machine's secret"), std::string::npos) << r.error();
}

TEST_F(AgentHandshake, AProofForAnotherChallengeIsRefused) {
  FakeAgent agent(secret_, Answer::replayed_nonce);
  auto r = open(agent, secret_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("did not prove"), std::string::npos) << r.error();
}

TEST_F(AgentHandshake, SilenceOrAnotherMessageIsRefused) {
  FakeAgent silent(secret_, Answer::silence);
  auto r = open(silent, secret_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("answer to the challenge"), std::string::npos) << r.error();
  FakeAgent chatty(secret_, Answer::not_a_proof);
  r = open(chatty, secret_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not a proof"), std::string::npos) << r.error();
}

TEST_F(AgentHandshake, AnAgentOfAnotherProtocolIsRefused) {
  FakeAgent old(secret_, Answer::right_proof, 1);
  auto r = open(old, secret_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("protocol 1"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace berth::actors
