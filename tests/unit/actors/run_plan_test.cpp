#include "actors/run_plan.hpp"

#include <gtest/gtest.h>

namespace berth::actors {
namespace {

images::Language lang(bool compiled) {
  images::Language l;
  l.name = "x";
  l.source_file = "main.x";
  l.run = {"/bin/run", "main.x"};
  if (compiled) l.compile = {"/bin/cc", "main.x"};
  l.env = {{"A", "lang"}, {"B", "lang"}};
  return l;
}

messages::JobSpec spec() {
  messages::JobSpec s;
  s.id = "j1";
  s.files = {{"main.x", "src"}};
  s.args = {"--flag"};
  s.stdin_data = "input";
  s.env = {{"B", "job"}};
  return s;
}

TEST(RunPlan, InterpretedHasNoCompileNode) {
  auto plan = build_plan(spec(), lang(false));
  std::vector<std::string> names;
  for (auto& n : plan) names.push_back(n.name);
  EXPECT_EQ(names, (std::vector<std::string>{"image", "ip", "boot", "run"}));
  EXPECT_EQ(plan[2].phase, messages::Phase::prepare);
  EXPECT_EQ(plan[3].phase, messages::Phase::execute);
  for (auto& n : plan) EXPECT_EQ(n.status, messages::NodeStatus::pending);
}

TEST(RunPlan, CompiledLanguageCompilesFirstAndRunGetsStdinAndArgs) {
  auto steps = build_steps(spec(), lang(true));
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].step, "compile");
  EXPECT_EQ(steps[0].files.size(), 1u) << "files travel with the first step";
  EXPECT_TRUE(steps[0].stdin_data.empty());
  EXPECT_EQ(steps[1].step, "run");
  EXPECT_TRUE(steps[1].files.empty());
  EXPECT_EQ(steps[1].argv, (std::vector<std::string>{"/bin/run", "main.x", "--flag"}));
  EXPECT_EQ(steps[1].stdin_data, "input");
  EXPECT_EQ(steps[1].env.at("A"), "lang");
  EXPECT_EQ(steps[1].env.at("B"), "job") << "the job's env wins over the language's";
  EXPECT_EQ(build_plan(spec(), lang(true)).size(), 5u);
}

}  // namespace
}  // namespace berth::actors
