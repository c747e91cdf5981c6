// The agent's proof of its machine's secret (messages/agent_auth.cpp).
#include "messages/agent_auth.hpp"

#include <gtest/gtest.h>

namespace berth::messages {
namespace {

// RFC 4231 test cases 1, 2 and 6 (a key longer than the block is hashed first).
TEST(HmacSha256, Rfc4231Vectors) {
  EXPECT_EQ(to_hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(to_hex(hmac_sha256(std::string(131, '\xaa'),
                               "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(AgentProof, DependsOnSecretAndNonce) {
  auto secret = *random_bytes(kSecretBytes), other = *random_bytes(kSecretBytes);
  auto nonce = *random_bytes(kNonceBytes), nonce2 = *random_bytes(kNonceBytes);
  auto p = agent_proof(secret, nonce);
  EXPECT_EQ(p.size(), 32u);
  EXPECT_TRUE(proof_matches(p, agent_proof(secret, nonce)));
  EXPECT_FALSE(proof_matches(p, agent_proof(other, nonce)));
  EXPECT_FALSE(proof_matches(p, agent_proof(secret, nonce2)));
  EXPECT_FALSE(proof_matches(p, ""));
  EXPECT_FALSE(proof_matches(p, p.substr(0, 31)));
  EXPECT_FALSE(proof_matches(p, p + "x"));
}

TEST(RandomBytes, AreFreshEachTime) {
  auto a = random_bytes(32), b = random_bytes(32);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

TEST(Hex, RoundTripsAndRejectsBadText) {
  std::string bytes("\x00\x01\xfe\xff", 4);
  EXPECT_EQ(to_hex(bytes), "0001feff");
  EXPECT_EQ(*from_hex("0001FEff"), bytes);
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
}

}  // namespace
}  // namespace berth::messages
