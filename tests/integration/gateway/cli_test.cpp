// The berth CLI against a real gateway; the test plays the worker for `berth run`.
#include <fstream>

#include "messages/codec.hpp"
#include "messages/subjects.hpp"
#include "tests/integration/gateway/gateway_fixture.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
using messages::JobState;
using messages::Stream;
using nlohmann::json;

class Cli : public GatewayTest {
 protected:
  RunResult berth(std::vector<std::string> args, const std::string& stdin_data = {}) {
    std::vector<std::string> argv = {std::string(BERTH_BINARY_DIR) + "/gateway/berth", "--gateway",
                                     gw_->url()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 30s, {}, stdin_data);
  }
  std::string file(const std::string& name, const std::string& content) {
    auto dir = scratch_dir("cli");
    std::ofstream(dir / name) << content;
    return (dir / name).string();
  }
};

TEST_F(Cli, LanguagesPrintsATable) {
  auto r = berth({"languages"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("python"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("main.py"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bash"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("BUILT"), std::string::npos) << r.output;
  r = berth({"--json", "languages"});
  EXPECT_EQ(r.exit_code, 0);
  auto j = parse(r.output);
  ASSERT_TRUE(j.is_array()) << r.output;
  // One entry per images/languages/*.toml, each saying whether its image is built.
  size_t files = 0;
  for (auto& e :
       std::filesystem::directory_iterator(std::string(BERTH_SOURCE_DIR) + "/images/languages"))
    files += e.path().extension() == ".toml";
  EXPECT_EQ(j.size(), files);
  for (auto& l : j) EXPECT_TRUE(l["built"].is_boolean()) << l.dump();
}

TEST_F(Cli, StatusShowsTheRecord) {
  auto id = submit(python_job());
  auto r = berth({"status", id});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(id), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("state     queued"), std::string::npos) << r.output;
  r = berth({"status", id, "--json"});
  EXPECT_EQ(parse(r.output)["state"], "queued") << r.output;

  r = berth({"status", "jnothere"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("berth: no job 'jnothere'"), std::string::npos) << r.output;
}

TEST_F(Cli, SubmitPrintsTheIdAndCancelCancelsIt) {
  auto src = file("main.py", "print(1)");
  auto r = berth({"submit", "-l", "python", src});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string id = r.output.substr(0, r.output.find('\n'));
  ASSERT_TRUE(probe_->record(id)) << r.output;
  r = berth({"cancel", id});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, id + ": cancelled\n");
  r = berth({"cancel", id});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("job already finished"), std::string::npos) << r.output;
  r = berth({"submit", "-l", "cobol", src});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown language 'cobol'"), std::string::npos) << r.output;
}

TEST_F(Cli, RunStreamsOutputAndExitsWithTheJobsCode) {
  auto jobs = probe_->conn().subscribe_sync(messages::kJobsSubject);
  ASSERT_TRUE(jobs);
  ASSERT_TRUE(probe_->conn().flush(2000));
  auto src = file("prog.py", "import sys; print('out'); sys.exit(3)");
  auto in = file("in.txt", "the input");

  std::optional<messages::JobSpec> seen;
  std::thread worker([&] {
    auto m = jobs->next(15'000);
    if (!m || !*m) return;
    auto spec = messages::decode<messages::JobSpec>(nats::data(*m), "spec");
    if (!spec) return;
    seen = *spec;
    probe_->publish_state(spec->id, JobState::running);
    probe_->publish_output(spec->id, Stream::stdout_stream, "out\n", 1);
    probe_->publish_output(spec->id, Stream::stderr_stream, "warn\n", 2);
    messages::Result res;
    res.verdict = messages::Verdict::runtime_error;
    res.exit_code = 3;
    res.stdout_data = "out\nlate line the stream lost\n";
    res.stderr_data = "warn\n";
    res.wall_ms = 41;
    probe_->finish(spec->id, res);
    probe_->publish_state(spec->id, JobState::finished);
  });
  auto r =
      berth({"run", "-l", "python", src, "--stdin", in, "--wall-ms", "2000", "--", "a", "--b"});
  worker.join();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->files.at(0).name, "main.py");
  EXPECT_EQ(seen->files.at(0).content, "import sys; print('out'); sys.exit(3)");
  EXPECT_EQ(seen->stdin_data, "the input");
  EXPECT_EQ(seen->args, (std::vector<std::string>{"a", "--b"}));
  EXPECT_EQ(seen->limits.wall_ms, 2000u);

  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("out\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warn\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("late line the stream lost\n"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("out\nout\n"), std::string::npos) << "printed twice: " << r.output;
  EXPECT_NE(r.output.find("berth: runtime_error (exit 3) in 41 ms\n"), std::string::npos)
      << r.output;
}

TEST_F(Cli, RunOfATimedOutJobExits124) {
  auto jobs = probe_->conn().subscribe_sync(messages::kJobsSubject);
  ASSERT_TRUE(jobs);
  ASSERT_TRUE(probe_->conn().flush(2000));
  std::thread worker([&] {
    auto m = jobs->next(15'000);
    if (!m || !*m) return;
    auto spec = messages::decode<messages::JobSpec>(nats::data(*m), "spec");
    if (!spec) return;
    messages::Result res;
    res.verdict = messages::Verdict::time_limit;
    res.signal = 9;
    res.message = "wall time limit of 1000 ms reached";
    res.wall_ms = 1003;
    probe_->finish(spec->id, res);
    probe_->publish_state(spec->id, JobState::finished);
  });
  auto r = berth({"run", "-l", "bash", file("loop.sh", "while :; do :; done")});
  worker.join();
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_NE(
      r.output.find("berth: time_limit (signal 9, wall time limit of 1000 ms reached) in 1003 ms"),
      std::string::npos)
      << r.output;
}

TEST_F(Cli, UnreachableGatewayAndUsageErrorsExit2) {
  auto r = run({std::string(BERTH_BINARY_DIR) + "/gateway/berth", "--gateway", "http://127.0.0.1:1",
                "languages"},
               30s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("berth: cannot reach the gateway at http://127.0.0.1:1"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(berth({"run", "-l", "python"}).exit_code, 2) << "FILE is required";
  EXPECT_EQ(berth({"frobnicate"}).exit_code, 2);
  r = berth({"run", "-l", "python", "/nonexistent/file.py"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("cannot read /nonexistent/file.py"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace berth::test
