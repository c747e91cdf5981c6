#pragma once
// A child process for tests: started with an argv and extra environment, its stdout and stderr
// appended to a log file, stopped (SIGTERM, then SIGKILL) when the object goes away.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace berth::test {

class Process {
 public:
  Process() = default;
  Process(std::vector<std::string> argv, std::filesystem::path log,
          std::map<std::string, std::string> env = {});
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the wait status.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // Waits for exit up to `timeout`; -1 when it is still running.
  int wait(std::chrono::milliseconds timeout);
  std::string log_text() const;
  const std::filesystem::path& log_path() const { return log_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::filesystem::path log_;
};

// Runs a command to completion and returns {exit status, stdout+stderr}.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::map<std::string, std::string>& env = {},
              const std::string& stdin_data = {});

// A fresh directory under the build tree's test scratch, removed by the caller if wanted.
std::filesystem::path scratch_dir(const std::string& name);

// Polls `pred` every 20 ms until it is true or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    struct timespec ts {
      0, 20'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return pred();
}

}  // namespace berth::test
