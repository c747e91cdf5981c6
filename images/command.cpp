#include "images/command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace berth::images {

std::string tail_of_file(const std::filesystem::path& file, size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

std::expected<void, std::string> run_command(const std::vector<std::string>& argv,
                                             const std::filesystem::path& log,
                                             std::chrono::seconds timeout) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected("open " + log.string() + ": " + std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return std::unexpected(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    // A clean fd table, as from a shell: the worker's sockets must not leak into a build, and
    // mmdebstrap hands apt fixed descriptor numbers that an inherited fd can disturb.
    close_range(3, ~0u, 0);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fd);
  auto end = std::chrono::steady_clock::now() + timeout;
  int st = 0;
  bool timed_out = false;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= end) {
      kill(-pid, SIGKILL);
      waitpid(pid, &st, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0) return {};
  std::string how = timed_out       ? "timed out after " + std::to_string(timeout.count()) + " s"
                    : WIFEXITED(st) ? "exited with " + std::to_string(WEXITSTATUS(st))
                                    : "killed by signal " + std::to_string(WTERMSIG(st));
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && !timed_out) how += " (not found?)";
  return std::unexpected(argv[0] + " " + how + ":\n" + tail_of_file(log, 2000));
}

}  // namespace berth::images
