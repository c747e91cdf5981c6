// Job file names (agent/work_dir.cpp).
#include "agent/work_dir.hpp"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

TEST(AgentWorkDir, RelativeNamesSplitIntoComponents) {
  auto p = split_job_path("src/./pkg//main.py");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(*p, (std::vector<std::string>{"src", "pkg", "main.py"}));
  p = split_job_path("main.py");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, std::vector<std::string>{"main.py"});
  p = split_job_path("..hidden");  // a name that starts with dots is still a name
  ASSERT_TRUE(p);
}

TEST(AgentWorkDir, EscapesAndNonNamesAreRejected) {
  for (std::string name :
       std::vector<std::string>{"/etc/passwd", "..", "../x", "a/../b", "a/..", ".", "./", "",
                                "dir/", std::string("a\0b", 3), std::string(256, 'x')}) {
    auto p = split_job_path(name);
    EXPECT_FALSE(p) << name;
  }
}

}  // namespace
}  // namespace berth::agent
