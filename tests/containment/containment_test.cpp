// Hostile jobs through the real stack (nats-server, gateway, worker), checked from the host: a
// job reaches its own machine and nothing else, and no bomb outlives its verdict. The same suite
// runs on the jail natively and with runtime = kvm inside the KVM lab (kvm_lab.sh sets
// BERTH_TEST_RUNTIME=kvm): the rules are the same for both runtimes.
//
// Each probe that must fail also has a reason to succeed without its rule: the host listener is
// on 0.0.0.0 (reachable through the bridge address without the filter), the secret file is
// world-readable on the host, the neighbour job really listens.
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "tests/integration/pipeline/stack.hpp"
#include "tests/support/host_listener.hpp"
#include "tests/support/ports.hpp"

namespace berth::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Jobs may build their image first and, in the lab, boot a microVM each.
constexpr auto kJobTimeout = 600s;

// Probes everything a job must not reach and prints a JSON report: for each probe the exception
// it met ("TimeoutError", "PermissionError:EACCES", ...) or what it got.
const char* kProbe = R"py(import ctypes, errno, json, os, socket
env = os.environ
report = {}
def name_of(e):
    code = getattr(e, "errno", None)
    return type(e).__name__ + (":" + errno.errorcode.get(code, str(code)) if code else "")
def attempt(key, fn):
    try:
        report[key] = fn()
    except Exception as e:
        report[key] = name_of(e)
def read(path):
    with open(path, "rb") as f:
        return "read %d bytes" % len(f.read())
def connect(host, port, timeout=3):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return "connected"
    finally:
        s.close()
attempt("host_secret", lambda: read(env["SECRET_PATH"]))
attempt("pid1_environ", lambda: read("/proc/1/environ"))
comms = []
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            comms.append(open("/proc/%s/comm" % p).read().strip())
        except OSError:
            pass
report["processes"] = sorted(comms)
attempt("signal_worker", lambda: os.kill(int(env["WORKER_PID"]), 0) or "signalled")
attempt("host_port", lambda: connect(env["GATEWAY"], int(env["HOST_PORT"])))
attempt("host_closed_port", lambda: connect(env["GATEWAY"], int(env["CLOSED_PORT"])))
attempt("host_nats", lambda: connect(env["GATEWAY"], int(env["NATS_PORT"])))
attempt("outside", lambda: connect("198.51.100.2", 80))
attempt("own_agent", lambda: connect("127.0.0.1", 7070, 1))
for dev in ("/dev/kvm", "/dev/net/tun", "/dev/mem"):
    attempt("open " + dev, lambda dev=dev: os.close(os.open(dev, os.O_RDWR)) or "opened")
libc = ctypes.CDLL(None, use_errno=True)
def syscall(nr, *args):
    r = libc.syscall(nr, *args)
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
report["io_uring_setup"] = syscall(425, 1, ctypes.create_string_buffer(120))
report["bpf"] = syscall(321, 0, ctypes.create_string_buffer(128), 128)
report["userfaultfd"] = syscall(323, 0)
report["perf_event_open"] = syscall(298, ctypes.create_string_buffer(128), 0, -1, -1, 0)
attempt("vsock", lambda: socket.socket(40, socket.SOCK_STREAM).close() or "opened")
attempt("packet", lambda: socket.socket(17, socket.SOCK_RAW).close() or "opened")
report["uid"] = os.getuid()
print(json.dumps(report, sort_keys=True))
)py";

class Containment : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = new Stack(runtime_options_from_env()); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  static bool kvm() {
    const char* r = std::getenv("BERTH_TEST_RUNTIME");
    return r && std::string(r) == "kvm";
  }
  static json run(json j) {
    auto rec = stack_->wait_finished(stack_->submit(j), kJobTimeout);
    EXPECT_EQ(rec.value("state", ""), "finished") << rec.dump(2);
    return rec;
  }
  static inline Stack* stack_ = nullptr;
};

TEST_F(Containment, AJobReachesNothingOfTheHost) {
  HostListener listener;
  // A host file any local user could read: the job must not see the host's filesystem at all.
  auto secret = stack_->state_dir() / "host-secret.txt";
  std::ofstream(secret) << "berth-host-secret-" << getpid() << "\n";
  chmod(secret.c_str(), 0644);

  json j = job("python", kProbe);
  j["env"] = {{"SECRET_PATH", secret.string()},
              {"WORKER_PID", std::to_string(stack_->worker_pid())},
              {"GATEWAY", stack_->gateway_ip()},
              {"HOST_PORT", std::to_string(listener.port())},
              {"CLOSED_PORT", std::to_string(free_port())},
              {"NATS_PORT", std::to_string(stack_->nats().port())}};
  j["limits"] = {{"wall_ms", 60000}, {"cpu_ms", 60000}};
  auto rec = run(j);
  SCOPED_TRACE(rec.dump(2));
  ASSERT_EQ(rec["result"]["verdict"], "ok");
  auto r = json::parse(rec["result"]["stdout"].get<std::string>());
  SCOPED_TRACE(r.dump(2));

  auto failed = [&](const std::string& key) {
    auto v = r.value(key, std::string("(missing)"));
    return v.find("Error") != std::string::npos || v.rfind("E", 0) == 0;
  };
  // Files and processes of the host.
  EXPECT_TRUE(failed("host_secret"));
  EXPECT_TRUE(failed("pid1_environ"));
  for (auto& comm : r["processes"])
    for (const char* host : {"berth-worker", "berth-gateway", "nats-server", "ctest"})
      EXPECT_NE(comm.get<std::string>(), host) << "the job sees a host process";
  // A jail's pid namespace holds the agent and the job; a microVM's /proc also lists its own
  // kernel's threads.
  if (!kvm()) {
    EXPECT_LT(r["processes"].size(), 12u);
  }
  EXPECT_TRUE(failed("signal_worker"));
  EXPECT_EQ(kill(stack_->worker_pid(), 0), 0) << "the worker is gone";

  // The host's services through the bridge address: silently dropped, so a probe times out
  // (no "refused", even on a closed port), and the listener saw nobody.
  EXPECT_EQ(r["host_port"], "TimeoutError");
  EXPECT_EQ(r["host_closed_port"], "TimeoutError");
  EXPECT_EQ(r["host_nats"], "TimeoutError");
  EXPECT_EQ(listener.accepted(), 0);
  // No route out with egress = none.
  EXPECT_TRUE(failed("outside"));
  // The agent's port serves its one supervisor only; its listener is closed by now.
  EXPECT_EQ(r["own_agent"], "ConnectionRefusedError:ECONNREFUSED");

  for (const char* dev : {"open /dev/kvm", "open /dev/net/tun", "open /dev/mem"})
    EXPECT_TRUE(failed(dev)) << dev;
  for (const char* call : {"io_uring_setup", "bpf", "userfaultfd", "perf_event_open"})
    EXPECT_NE(r[call], "ok") << call;
  EXPECT_TRUE(failed("vsock"));
  EXPECT_TRUE(failed("packet"));
  EXPECT_NE(r["uid"], 0);
}

// Two jobs at once: one listens, the other looks for it on every address of the subnet.
TEST_F(Containment, AJobCannotReachAnotherJob) {
  const std::string listener = R"py(import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7171))
s.listen(16)
s.settimeout(0.5)
accepted = 0
end = time.time() + float(__import__("os").environ["LISTEN_S"])
while time.time() < end:
    try:
        c, _ = s.accept()
        accepted += 1
        c.close()
    except OSError:
        pass
print("accepted", accepted)
)py";
  const std::string scanner = R"py(import os, socket, threading, time
time.sleep(float(os.environ["WAIT_S"]))
base = os.environ["SUBNET"]
found = []
def probe(ip):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((ip, 7171))
        found.append(ip)
    except OSError:
        pass
    finally:
        s.close()
threads = [threading.Thread(target=probe, args=(base + str(n),)) for n in range(2, 20)]
for t in threads: t.start()
for t in threads: t.join()
print("found", sorted(found))
)py";
  auto subnet = stack_->gateway_ip();
  subnet.pop_back();  // "10.213.N."
  // The lab boots a microVM per job in ~10 s; both must overlap.
  const int listen_s = kvm() ? 48 : 12, wait_s = kvm() ? 20 : 3;
  json a = job("python", listener), b = job("python", scanner);
  a["env"] = {{"LISTEN_S", std::to_string(listen_s)}};
  a["limits"] = {{"wall_ms", (listen_s + 10) * 1000}, {"cpu_ms", (listen_s + 10) * 1000}};
  b["env"] = {{"SUBNET", subnet}, {"WAIT_S", std::to_string(wait_s)}};
  b["limits"] = {{"wall_ms", (wait_s + 20) * 1000}, {"cpu_ms", (wait_s + 20) * 1000}};
  auto ida = stack_->submit(a);
  auto idb = stack_->submit(b);
  auto ra = stack_->wait_finished(ida, kJobTimeout), rb = stack_->wait_finished(idb, kJobTimeout);
  SCOPED_TRACE(ra.dump(2) + "\n" + rb.dump(2));
  ASSERT_EQ(ra["result"]["verdict"], "ok");
  ASSERT_EQ(rb["result"]["verdict"], "ok");
  EXPECT_EQ(ra["result"]["stdout"], "accepted 0\n");
  EXPECT_EQ(rb["result"]["stdout"], "found []\n");
}

// In a jail the job runs as a host uid of its own machine; none is root or shared.
TEST_F(Containment, ConcurrentJailJobsRunAsDistinctHostUids) {
  if (kvm()) GTEST_SKIP() << "a microVM's job runs as a uid of its own kernel, not the host's";
  const std::string who = "import os, time; time.sleep(3); print(os.getuid(), os.getgid())";
  auto a = stack_->submit(job("python", who)), b = stack_->submit(job("python", who));
  auto ra = stack_->wait_finished(a, kJobTimeout), rb = stack_->wait_finished(b, kJobTimeout);
  SCOPED_TRACE(ra.dump(2) + "\n" + rb.dump(2));
  auto ua = ra["result"]["stdout"].get<std::string>(),
       ub = rb["result"]["stdout"].get<std::string>();
  EXPECT_NE(ua, ub);
  EXPECT_GE(std::stoul(ua), 2'000'000'000ul);
  EXPECT_GE(std::stoul(ub), 2'000'000'000ul);
}

TEST_F(Containment, BombsEndInTheirVerdictsAndLeaveNothing) {
  json fork_bomb = job("python", R"py(import os
while True:
    try:
        os.fork()
    except OSError:
        pass
)py");
  // The lab's guests run 10-20x slower than a jail: generous time, or the limits under test
  // would be hidden behind time_limit.
  const int slow = kvm() ? 40000 : 5000;
  fork_bomb["limits"] = {{"wall_ms", 4000}, {"processes", 32}};
  // Small steps, each touched: the job's memory cgroup stops it, not a refused allocation.
  json memory_bomb = job("python", "x = []\nwhile True:\n    x.append(bytearray(16 << 20))");
  memory_bomb["limits"] = {{"memory_mib", 64}, {"wall_ms", slow}, {"cpu_ms", slow}};
  json disk_bomb = job("python", R"py(import errno
n = 0
try:
    with open("/work/fill", "wb") as f:
        while True:
            f.write(b"x" * (1 << 20))
            f.flush()
            n += 1
except OSError as e:
    print("stopped after", n, "MiB:", errno.errorcode[e.errno])
)py");
  disk_bomb["limits"] = {{"wall_ms", slow}, {"cpu_ms", slow}};
  json output_bomb = job("python", "import sys\nsys.stdout.write('x' * (8 << 20))");
  output_bomb["limits"] = {{"output_bytes", 1 << 16}, {"wall_ms", slow}, {"cpu_ms", slow}};
  std::map<std::string, std::string> ids = {{"fork", stack_->submit(fork_bomb)},
                                            {"memory", stack_->submit(memory_bomb)},
                                            {"disk", stack_->submit(disk_bomb)},
                                            {"output", stack_->submit(output_bomb)}};
  std::map<std::string, json> r;
  for (auto& [what, id] : ids) r[what] = stack_->wait_finished(id, kJobTimeout);
  for (auto& [what, rec] : r) {
    SCOPED_TRACE(what + ":\n" + rec.dump(2));
    ASSERT_EQ(rec.value("state", ""), "finished");
  }
  EXPECT_NE(r["fork"]["result"]["verdict"], "ok") << r["fork"].dump(2);
  EXPECT_EQ(r["memory"]["result"]["verdict"], "memory_limit") << r["memory"].dump(2);
  EXPECT_NE(r["disk"]["result"]["stdout"].get<std::string>().find("stopped after"),
            std::string::npos)
      << r["disk"].dump(2);
  EXPECT_TRUE(r["output"]["result"]["stdout_truncated"].get<bool>()) << r["output"].dump(2);
  EXPECT_LE(r["output"]["result"]["stdout"].get<std::string>().size(), size_t{1} << 16);

  // Nothing is left: no lease, no machine directory, no job process on the host, and the worker
  // still answers.
  EXPECT_TRUE(eventually([&] { return stack_->leases_in_use() == 0; }, 30s));
  auto machines = stack_->state_dir() / "worker" / "machines";
  EXPECT_TRUE(eventually([&] { return std::filesystem::is_empty(machines); }, 30s)) << machines;
  auto job_processes = [] {
    int n = 0;
    for (auto& e : std::filesystem::directory_iterator("/proc")) {
      struct stat st {};
      if (stat(e.path().c_str(), &st) == 0 && st.st_uid >= 2'000'000'000u) ++n;
    }
    return n;
  };
  EXPECT_TRUE(eventually([&] { return job_processes() == 0; }, 30s)) << job_processes();
  EXPECT_EQ(http("GET", stack_->worker_status_port(), "/healthz").status, 200);
}

}  // namespace
}  // namespace berth::test

namespace berth::test {
namespace {

// With every worker at egress = none (the default), a job asking for the network is refused at
// submission, from what the workers announce.
TEST_F(Containment, NetworkJobsAreRefusedWhereNoWorkerOffersEgress) {
  json j = job("python", "print('never runs')");
  j["network"] = true;
  auto r = http("POST", stack_->gateway_port(), "/v1/jobs", j.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("network access is disabled on this deployment"), std::string::npos)
      << r.body;
}

// A "host outside" the deployment: a network namespace of the test's own, joined to the host by
// a veth, serving "outside" on 198.51.100.2:8080 (TEST-NET-2, outside every denied range).
class Outside {
 public:
  Outside() : ns_("bc" + std::to_string(getpid() % 100000)) {
    auto sh = [](const std::string& cmd) { return run({"sh", "-c", cmd}, 10s).exit_code; };
    ok_ = sh("ip netns add " + ns_) == 0 &&
          sh("ip link add " + ns_ + " type veth peer name eth0 netns " + ns_) == 0 &&
          sh("ip addr add 198.51.100.1/24 dev " + ns_ + " && ip link set " + ns_ + " up") == 0 &&
          sh("ip -n " + ns_ + " addr add 198.51.100.2/24 dev eth0 && ip -n " + ns_ +
             " link set eth0 up && ip -n " + ns_ + " route add default via 198.51.100.1") == 0;
    if (ok_)
      server_ = Process({"ip", "netns", "exec", ns_, "busybox", "nc", "-ll", "-p", "8080", "-e",
                         "/bin/echo", "outside"},
                        scratch_dir("outside") / "nc.log");
  }
  ~Outside() {
    server_.stop(std::chrono::seconds(1));
    run({"ip", "link", "del", ns_}, 5s);
    run({"ip", "netns", "del", ns_}, 5s);
  }
  bool ok() const { return ok_; }

 private:
  std::string ns_;
  bool ok_ = false;
  Process server_;
};

TEST(Egress, NatGivesNetworkJobsAndOnlyThemARouteOut) {
  if (const char* r = std::getenv("BERTH_TEST_RUNTIME"); r && std::string(r) == "kvm")
    GTEST_SKIP() << "the outside namespace is made natively";
  std::string forwarding;
  std::ifstream("/proc/sys/net/ipv4/ip_forward") >> forwarding;
  Outside outside;
  ASSERT_TRUE(outside.ok());
  {
    Stack stack(StackOptions{.worker_args = {"--egress", "nat"}});
    const std::string probe = R"py(import socket
s = socket.create_connection(("198.51.100.2", 8080), timeout=3)
print(s.recv(64).decode().strip())
)py";
    json with = job("python", probe), without = job("python", probe);
    with["network"] = true;
    // The gateway learns the worker's egress from its announcement, within a few seconds.
    std::string id;
    ASSERT_TRUE(eventually(
        [&] {
          auto r = http("POST", stack.gateway_port(), "/v1/jobs", with.dump());
          if (r.status == 202) id = json::parse(r.body)["id"];
          return r.status == 202;
        },
        15s));
    auto rw = stack.wait_finished(id, kJobTimeout);
    auto rn = stack.wait_finished(stack.submit(without), kJobTimeout);
    SCOPED_TRACE(rw.dump(2) + "\n" + rn.dump(2));
    EXPECT_EQ(rw["result"]["verdict"], "ok");
    EXPECT_EQ(rw["result"]["stdout"], "outside\n");
    EXPECT_EQ(rn["result"]["verdict"], "runtime_error");
    EXPECT_NE(rn["result"]["stderr"].get<std::string>().find("unreachable"), std::string::npos);
  }
  std::ofstream("/proc/sys/net/ipv4/ip_forward") << forwarding << "\n";
}

}  // namespace
}  // namespace berth::test
