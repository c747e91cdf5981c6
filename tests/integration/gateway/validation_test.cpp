// Submissions the gateway must refuse, each with a message naming the problem, and nothing
// written or enqueued for them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/gateway/gateway_fixture.hpp"

namespace berth::test {
namespace {

using nlohmann::json;

class Validation : public GatewayTest {
 protected:
  // POSTs `body` (raw text) and expects 400 with `needle` in the error.
  void expect_400(const std::string& body, const std::string& needle) {
    SCOPED_TRACE(body.substr(0, 200));
    auto r = http("POST", gw_->port(), "/v1/jobs", body);
    EXPECT_EQ(r.status, 400) << r.body;
    std::string error = parse(r.body).value("error", "");
    EXPECT_NE(error.find(needle), std::string::npos)
        << "error '" << error << "' does not contain '" << needle << "'";
  }
  void TearDown() override {
    EXPECT_EQ(probe_->stream_messages(), 0u) << "a refused job was enqueued";
    GatewayTest::TearDown();
  }
};

TEST_F(Validation, UnknownLanguageListsTheAvailableOnes) {
  expect_400(R"({"language": "cobol", "source": "x"})",
             "unknown language 'cobol' (available: bash, c, cpp, go, java, javascript, lua, perl, "
             "php, python, ruby, rust)");
}

TEST_F(Validation, MalformedJson) {
  expect_400(R"({"language": "python", )", "invalid JSON: ");
  expect_400("", "invalid JSON: ");
  expect_400("[1, 2]", "must be a JSON object");
}

TEST_F(Validation, MissingLanguage) {
  expect_400(R"({"source": "print 1"})", "language is required");
  expect_400(R"({"language": 3, "source": "print 1"})", "language must be a string");
}

TEST_F(Validation, MissingOrConflictingFiles) {
  expect_400(R"({"language": "python"})", "files or source is required");
  expect_400(R"({"language": "python", "files": []})", "files must not be empty");
  expect_400(R"({"language": "python", "source": "a", "files": [{"name": "a.py"}]})",
             "either files or source, not both");
  expect_400(R"({"language": "python", "files": [{"content": "x"}]})", "files[0].name is required");
  expect_400(R"({"language": "python", "files": "main.py"})", "files must be an array");
}

TEST_F(Validation, BadFileNames) {
  auto with = [](const std::string& name) {
    return json{
        {"language", "python"},
        {"files", {{{"name", "main.py"}, {"content", ""}}, {{"name", name}, {"content", ""}}}}}
        .dump();
  };
  expect_400(with("../etc/passwd"), "files[1].name '../etc/passwd' must not contain '..'");
  expect_400(with("a/../../b"), "must not contain '..'");
  expect_400(with("/etc/passwd"), "files[1].name '/etc/passwd' must be relative");
  expect_400(with("main.py"), "files[1].name 'main.py' is given twice");
  expect_400(with(""), "files[1].name must not be empty");
  expect_400(with("a//b"), "empty or '.' path component");
}

TEST_F(Validation, LimitsOutOfRange) {
  auto with = [](json limits) {
    return json{{"language", "python"}, {"source", ""}, {"limits", limits}}.dump();
  };
  expect_400(with({{"wall_ms", 60001}}), "limits.wall_ms must be between 1 and 60000");
  expect_400(with({{"wall_ms", 0}}), "limits.wall_ms must be between 1 and 60000");
  expect_400(with({{"cpu_ms", -5}}), "limits.cpu_ms must be between 1 and 60000");
  expect_400(with({{"memory_mib", 4097}}), "limits.memory_mib must be between 1 and 4096");
  expect_400(with({{"processes", 513}}), "limits.processes must be between 1 and 512");
  expect_400(with({{"output_bytes", 16777217}}),
             "limits.output_bytes must be between 1 and 16777216");
  expect_400(with({{"file_size_bytes", 268435457}}),
             "limits.file_size_bytes must be between 1 and 268435456");
  expect_400(with({{"wall_ms", "5000"}}), "limits.wall_ms must be an integer");
  expect_400(with({{"wall_ms", 1.5}}), "limits.wall_ms must be an integer");
  expect_400(with({{"disk_mib", 1}}), "limits.disk_mib is not a limit");
  expect_400(with(json::array()), "limits must be an object");
}

TEST_F(Validation, UnknownFieldsAreNamed) {
  expect_400(R"({"language": "python", "source": "", "timeout": 5})", "unknown field 'timeout'");
  expect_400(R"({"language": "python", "source": "", "b": 1, "a": 2})", "unknown fields 'a', 'b'");
  expect_400(R"({"language": "python", "files": [{"name": "m.py", "mode": 7}]})",
             "files[0]: unknown field 'mode'");
}

TEST_F(Validation, WrongTypesNameTheField) {
  expect_400(R"({"language": "python", "source": 1})", "source must be a string");
  expect_400(R"({"language": "python", "source": "", "stdin": ["x"]})", "stdin must be a string");
  expect_400(R"({"language": "python", "source": "", "args": "a b"})", "args must be an array");
  expect_400(R"({"language": "python", "source": "", "args": ["a", 2]})",
             "args[1] must be a string");
  expect_400(R"({"language": "python", "source": "", "env": {"K": 1}})", "env.K must be a string");
  expect_400(R"({"language": "python", "source": "", "env": {"A=B": "x"}})",
             "'A=B' is not a variable name");
  expect_400(R"({"language": "python", "source": "", "network": "yes"})",
             "network must be a boolean");
}

TEST_F(Validation, BadQueryFlags) {
  auto r = http("POST", gw_->port(), "/v1/jobs?wait=maybe", python_job().dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parse(r.body)["error"], "?wait must be true or false, not 'maybe'");
  r = http("POST", gw_->port(), "/v1/jobs?wait=true&stream=true", python_job().dump());
  EXPECT_EQ(r.status, 400);
}

class BodyLimit : public GatewayTest {
 protected:
  std::vector<std::string> gateway_flags() override { return {"--max-body-bytes", "65536"}; }
};

TEST_F(BodyLimit, OversizedBodyIs413) {
  // Exactly at the limit is fine...
  json job = python_job("");
  std::string body = job.dump();
  job["source"] = std::string(65536 - body.size(), 'x');
  body = job.dump();
  ASSERT_EQ(body.size(), 65536u);
  EXPECT_EQ(http("POST", gw_->port(), "/v1/jobs", body).status, 202);
  // ...one byte more is not.
  job["source"] = job["source"].get<std::string>() + "x";
  auto r = http("POST", gw_->port(), "/v1/jobs", job.dump());
  EXPECT_EQ(r.status, 413) << r.error << r.body;
  EXPECT_NE(parse(r.body).value("error", "").find("max_body_bytes"), std::string::npos) << r.body;
  EXPECT_EQ(probe_->stream_messages(), 1u);
}

TEST_F(BodyLimit, OversizedBodyIsRefusedBeforeItIsSent) {
  // Only the header announces 1 GiB: the answer must come without the body being read.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(gw_->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string head =
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1073741824\r\n\r\n{\"language\":";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  char buf[512] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  ASSERT_GT(n, 0) << "no answer within 5 s";
  EXPECT_TRUE(std::string(buf).starts_with("HTTP/1.1 413")) << buf;
}

}  // namespace
}  // namespace berth::test
