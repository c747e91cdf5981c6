// A job's whole way through berth on the jail runtime: gateway, JetStream, worker, agent,
// persisted result (DESIGN.md §2).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "messages/nats/connection.hpp"
#include "messages/subjects.hpp"
#include "tests/integration/pipeline/stack.hpp"

namespace berth::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Pipeline : public StackSuite {};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(Pipeline, HelloPyOverHttp) {
  auto rec =
      stack_->run(job("python", read_file(std::string(BERTH_SOURCE_DIR) + "/examples/hello.py")));
  ASSERT_EQ(rec.value("state", ""), "finished") << rec.dump(2);
  auto& res = rec["result"];
  EXPECT_EQ(res["verdict"], "ok") << rec.dump(2);
  EXPECT_EQ(res["exit_code"], 0);
  EXPECT_NE(res["stdout"].get<std::string>().find("Hello from berth"), std::string::npos)
      << rec.dump(2);
  // The run plan was persisted and each node ran.
  std::vector<std::string> names;
  for (auto& n : rec["plan"]) {
    names.push_back(n["name"]);
    EXPECT_EQ(n["status"], "done") << n.dump();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"image", "ip", "boot", "run"}));
  EXPECT_EQ(rec["attempts"], 1);
  EXPECT_FALSE(rec["worker_id"].get<std::string>().empty());
  // The image the job ran in is listed as built, with the Debian version it resolved.
  auto langs = json::parse(http("GET", stack_->gateway_port(), "/v1/languages").body);
  bool found = false;
  for (auto& l : langs) {
    if (l["name"] != "python") continue;
    found = true;
    EXPECT_EQ(l["built"], true) << l.dump();
    EXPECT_FALSE(l["image"]["packages"].value("python3", "").empty()) << l.dump();
  }
  EXPECT_TRUE(found);
}

TEST_F(Pipeline, HelloOverNats) {
  auto conn = nats::Connection::connect(stack_->nats().url(), "test");
  ASSERT_TRUE(conn) << conn.error();
  ASSERT_TRUE(eventually([&] { return (*conn)->connected(); }, 5s));
  auto reply =
      (*conn)->request(messages::kSubmitSubject, job("bash", "echo hello over nats").dump(), 5000);
  ASSERT_TRUE(reply) << reply.error();
  auto answer = json::parse(nats::data(*reply));
  ASSERT_TRUE(answer.contains("id")) << answer.dump();
  auto rec = stack_->wait_finished(answer["id"], 120s);
  ASSERT_EQ(rec.value("state", ""), "finished") << rec.dump(2);
  EXPECT_EQ(rec["result"]["verdict"], "ok");
  EXPECT_EQ(rec["result"]["stdout"], "hello over nats\n");
}

TEST_F(Pipeline, StdinRoundTrip) {
  auto j = job("python", "import sys\ndata = sys.stdin.read()\nprint(len(data)); print(data[:5])");
  std::string input(200000, 'x');
  input.replace(0, 5, "abcde");
  j["stdin"] = input;
  auto rec = stack_->run(j);
  EXPECT_EQ(rec["result"]["verdict"], "ok") << rec.dump(2);
  EXPECT_EQ(rec["result"]["stdout"], "200000\nabcde\n");
}

TEST_F(Pipeline, Arguments) {
  auto j = job("python", "import sys\nprint(sys.argv[1:])");
  j["args"] = {"one", "two words", "--three"};
  auto rec = stack_->run(j);
  EXPECT_EQ(rec["result"]["verdict"], "ok") << rec.dump(2);
  EXPECT_EQ(rec["result"]["stdout"], "['one', 'two words', '--three']\n");
}

TEST_F(Pipeline, ExitCodeThreeIsARuntimeError) {
  auto rec = stack_->run(job("python", "import sys\nprint('bye', file=sys.stderr)\nsys.exit(3)"));
  EXPECT_EQ(rec["result"]["verdict"], "runtime_error") << rec.dump(2);
  EXPECT_EQ(rec["result"]["exit_code"], 3);
  EXPECT_EQ(rec["result"]["stderr"], "bye\n");
}

TEST_F(Pipeline, JobRunsUnprivileged) {
  auto rec = stack_->run(job("bash", "id -u; cat /etc/shadow >/dev/null 2>&1 || echo denied"));
  EXPECT_EQ(rec["result"]["verdict"], "ok") << rec.dump(2);
  // A host uid of its machine's own (uid_base + the address's low 16 bits), never root.
  auto out = rec["result"]["stdout"].get<std::string>();
  EXPECT_GE(std::stoul(out), 2'000'000'000ul) << out;
  EXPECT_NE(out.find("\ndenied\n"), std::string::npos) << out;
}

TEST_F(Pipeline, NoRouteOut) {
  auto rec = stack_->run(job("bash", "cat /proc/net/route | wc -l"));
  EXPECT_EQ(rec["result"]["verdict"], "ok") << rec.dump(2);
  // Only the header and the on-link route of the machine's own subnet: no default route.
  EXPECT_EQ(rec["result"]["stdout"], "2\n") << rec.dump(2);
}

}  // namespace
}  // namespace berth::test
