#include "vmm/net/ipv4.hpp"

#include <gtest/gtest.h>

namespace berth::vmm::net {
namespace {

TEST(Ipv4, ParsesDottedQuadsAndPrintsThemBack) {
  for (const char* text : {"0.0.0.0", "10.213.0.7", "255.255.255.255", "192.168.1.10"}) {
    auto ip = Ipv4::parse(text);
    ASSERT_TRUE(ip) << text << ": " << ip.error();
    EXPECT_EQ(ip->to_string(), text);
  }
  EXPECT_EQ(Ipv4::parse("10.213.0.7")->value(), 0x0ad50007u);
  EXPECT_LT(*Ipv4::parse("10.0.0.9"), *Ipv4::parse("10.0.0.10"));
}

TEST(Ipv4, RejectsWhatIsNotAnAddressAndSaysWhy) {
  for (const char* text : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "01.2.3.4",
                           " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1..2.3", "-1.2.3.4", "+1.2.3.4",
                           "1.2.3.4/24", "1.2.3.", ".1.2.3", "4294967296.0.0.0"}) {
    auto ip = Ipv4::parse(text);
    ASSERT_FALSE(ip) << "'" << text << "' was accepted as " << ip->to_string();
    EXPECT_NE(ip.error().find("is not an IPv4 address"), std::string::npos) << ip.error();
  }
  EXPECT_NE(Ipv4::parse("01.2.3.4").error().find("leading zero"), std::string::npos);
  EXPECT_NE(Ipv4::parse("1.2.3.300").error().find("larger than 255"), std::string::npos);
}

TEST(Cidr, ParsesANetworkAndServesItsHosts) {
  auto net = Cidr::parse("10.213.0.0/24");
  ASSERT_TRUE(net) << net.error();
  EXPECT_EQ(net->network().to_string(), "10.213.0.0");
  EXPECT_EQ(net->prefix(), 24);
  EXPECT_EQ(net->netmask().to_string(), "255.255.255.0");
  EXPECT_EQ(net->broadcast().to_string(), "10.213.0.255");
  EXPECT_EQ(net->size(), 256u);
  EXPECT_EQ(net->host_count(), 254u);
  EXPECT_EQ(net->host(1)->to_string(), "10.213.0.1");
  EXPECT_EQ(net->host(7)->to_string(), "10.213.0.7");
  EXPECT_EQ(net->host(254)->to_string(), "10.213.0.254");
  EXPECT_FALSE(net->host(0));
  EXPECT_FALSE(net->host(255));
  EXPECT_NE(net->host(255).error().find("outside 10.213.0.0/24"), std::string::npos);
  EXPECT_EQ(net->to_string(), "10.213.0.0/24");

  EXPECT_TRUE(net->contains(*Ipv4::parse("10.213.0.0")));
  EXPECT_TRUE(net->contains(*Ipv4::parse("10.213.0.200")));
  EXPECT_FALSE(net->contains(*Ipv4::parse("10.213.1.1")));
  EXPECT_FALSE(net->contains(*Ipv4::parse("10.212.255.255")));
}

TEST(Cidr, HandlesTheEdgesOfThePrefixRange) {
  auto all = Cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all) << all.error();
  EXPECT_EQ(all->size(), uint64_t{1} << 32);
  EXPECT_TRUE(all->contains(*Ipv4::parse("255.255.255.255")));
  EXPECT_EQ(all->broadcast().to_string(), "255.255.255.255");

  auto one = Cidr::parse("10.0.0.1/32");
  ASSERT_TRUE(one) << one.error();
  EXPECT_EQ(one->size(), 1u);
  EXPECT_EQ(one->host_count(), 0u);
  EXPECT_FALSE(one->host(1));
  EXPECT_TRUE(one->contains(*Ipv4::parse("10.0.0.1")));
  EXPECT_FALSE(one->contains(*Ipv4::parse("10.0.0.2")));

  auto small = Cidr::parse("10.0.0.4/30");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->host_count(), 2u);
  EXPECT_EQ(small->host(2)->to_string(), "10.0.0.6");
  EXPECT_FALSE(small->host(3));  // the broadcast address
}

TEST(Cidr, RejectsBadNetworksAndSaysWhy) {
  for (const char* text :
       {"", "10.213.0.0", "10.213.0.0/", "/24", "10.213.0.0/33", "10.213.0.0/-1", "10.213.0.0/024",
        "10.213.0.0/24 ", "10.213.0/24", "10.213.0.0/2a", "10.213.0.0//24", "10.213.0.5/24"}) {
    auto net = Cidr::parse(text);
    ASSERT_FALSE(net) << "'" << text << "' was accepted as " << net->to_string();
    EXPECT_NE(net.error().find("is not an IPv4 network"), std::string::npos) << net.error();
  }
  // Host bits set: the message names the network that was probably meant.
  EXPECT_NE(Cidr::parse("10.213.0.5/24").error().find("10.213.0.0/24"), std::string::npos);
}

TEST(Cidr, EnclosingMasksTheHostBits) {
  auto net = Cidr::enclosing(*Ipv4::parse("10.213.0.77"), 24);
  ASSERT_TRUE(net) << net.error();
  EXPECT_EQ(net->to_string(), "10.213.0.0/24");
  EXPECT_FALSE(Cidr::enclosing(*Ipv4::parse("10.213.0.77"), 33));
  EXPECT_EQ(prefix_mask(0), 0u);
  EXPECT_EQ(prefix_mask(24), 0xffffff00u);
  EXPECT_EQ(prefix_mask(32), 0xffffffffu);
}

}  // namespace
}  // namespace berth::vmm::net
