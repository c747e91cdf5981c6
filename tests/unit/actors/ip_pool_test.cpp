#include "actors/ip_pool.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tests/support/process.hpp"

namespace berth::actors {
namespace {

TEST(IpPool, LeasesDistinctAddressesAndPersistsThem) {
  auto dir = test::scratch_dir("ippool");
  auto pool = IpPool::open("10.213.5.0/29", dir / "leases");
  ASSERT_TRUE(pool) << pool.error();
  EXPECT_EQ(pool->gateway(), "10.213.5.1");
  EXPECT_EQ(pool->capacity(), 5u);  // .2 to .6
  std::set<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    auto ip = pool->lease("job" + std::to_string(i));
    ASSERT_TRUE(ip) << ip.error();
    seen.insert(*ip);
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(*pool->lease("job0"), *pool->lease("job0")) << "same job, same address";
  auto full = pool->lease("one-too-many");
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().find("exhausted"), std::string::npos);

  auto reopened = IpPool::open("10.213.5.0/29", dir / "leases");
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->in_use(), 5u) << "leases are recovered from the file";
  EXPECT_EQ(reopened->release_recovered(), 5u);
  EXPECT_EQ(IpPool::open("10.213.5.0/29", dir / "leases")->in_use(), 0u);
  std::filesystem::remove_all(dir);
}

TEST(IpPool, ReleasedAddressesAreReused) {
  auto dir = test::scratch_dir("ippool");
  auto pool = IpPool::open("10.213.6.0/30", dir / "leases");  // a single leasable address
  ASSERT_TRUE(pool) << pool.error();
  ASSERT_EQ(pool->capacity(), 1u);
  auto a = pool->lease("a");
  ASSERT_TRUE(a);
  EXPECT_FALSE(pool->lease("b"));
  pool->release("a");
  EXPECT_EQ(pool->in_use(), 0u);
  EXPECT_EQ(*pool->lease("b"), *a);
  std::filesystem::remove_all(dir);
}

TEST(IpPool, BadCidrsAreRejectedWithTheReason) {
  for (auto bad : {"10.0.0.0", "10.0.0.0/8", "10.0.0.0/31", "nonsense/24", "10.0.0.0/x"}) {
    auto p = IpPool::open(bad, "/nonexistent/leases");
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().find("cidr"), std::string::npos) << p.error();
  }
}

}  // namespace
}  // namespace berth::actors
