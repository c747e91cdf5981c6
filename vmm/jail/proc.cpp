#include "vmm/jail/proc.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

namespace berth::vmm::jail {

namespace {

std::optional<std::string> read_proc(pid_t pid, const char* file) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

// The fields of /proc/<pid>/stat after the ")" that ends the command name (which may itself
// contain spaces and parentheses): state is the first, start time the 20th.
std::optional<std::string> stat_tail(pid_t pid) {
  auto stat = read_proc(pid, "stat");
  if (!stat) return std::nullopt;
  auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  return stat->substr(close + 1);
}

}  // namespace

std::optional<std::string> proc_argv0(pid_t pid) {
  auto cmdline = read_proc(pid, "cmdline");
  if (!cmdline || cmdline->empty()) return std::nullopt;  // empty: a zombie or a kernel thread
  return std::string(cmdline->c_str());
}

std::optional<uint64_t> proc_start_time(pid_t pid) {
  auto tail = stat_tail(pid);
  if (!tail) return std::nullopt;
  std::istringstream in(*tail);
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
    if (i < 22) continue;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

bool proc_alive(pid_t pid) {
  auto tail = stat_tail(pid);
  if (!tail) return false;
  std::istringstream in(*tail);
  std::string state;
  in >> state;
  return state != "Z" && state != "X";
}

}  // namespace berth::vmm::jail
