#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace berth::test {

namespace {
pid_t spawn(const std::vector<std::string>& argv, const std::string& log,
            const std::map<std::string, std::string>& env, int stdin_fd) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("open " + log);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (stdin_fd >= 0) {
      dup2(stdin_fd, 0);
    } else {
      int devnull = open("/dev/null", O_RDONLY);
      dup2(devnull, 0);
    }
    for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fd);
  return pid;
}
}  // namespace

Process::Process(std::vector<std::string> argv, std::filesystem::path log,
                 std::map<std::string, std::string> env)
    : log_(std::move(log)) {
  pid_ = spawn(argv, log_.string(), env, -1);
}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), status_(o.status_), log_(std::move(o.log_)) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    status_ = o.status_;
    log_ = std::move(o.log_);
  }
  return *this;
}

Process::~Process() {
  stop();
}

bool Process::running() {
  return pid_ > 0 && wait(std::chrono::milliseconds(0)) == -1;
}

int Process::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return status_;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      pid_ = -1;
      return st;
    }
    if (std::chrono::steady_clock::now() >= end) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return status_;
  kill(pid_, SIGTERM);
  if (wait(grace) != -1) return status_;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  wait(std::chrono::milliseconds(5000));
  return status_;
}

std::string Process::log_text() const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::map<std::string, std::string>& env, const std::string& stdin_data) {
  auto dir = scratch_dir("run");
  auto log = dir / "out.log";
  auto in = dir / "stdin";
  std::ofstream(in) << stdin_data;
  int in_fd = open(in.c_str(), O_RDONLY | O_CLOEXEC);
  Process p;
  RunResult r;
  pid_t pid = spawn(argv, log.string(), env, in_fd);
  close(in_fd);
  auto end = std::chrono::steady_clock::now() + timeout;
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= end) {
      kill(-pid, SIGKILL);
      waitpid(pid, &st, 0);
      r.output = "(timed out)\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  std::ifstream lf(log);
  std::stringstream ss;
  ss << lf.rdbuf();
  r.output += ss.str();
  std::filesystem::remove_all(dir);
  return r;
}

std::filesystem::path scratch_dir(const std::string& name) {
  static std::mt19937_64 rng{std::random_device{}()};
  // BERTH_TEST_SCRATCH: somewhere writable when the build tree is not (the KVM lab shares it
  // read-only).
  const char* base = std::getenv("BERTH_TEST_SCRATCH");
  auto root =
      base ? std::filesystem::path(base) : std::filesystem::path(BERTH_BINARY_DIR) / "test-scratch";
  auto dir = root / (name + "-" + std::to_string(getpid()) + "-" + std::to_string(rng() % 1000000));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace berth::test
