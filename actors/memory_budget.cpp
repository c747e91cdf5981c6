#include "actors/memory_budget.hpp"

#include <fstream>

namespace berth::actors {

uint64_t default_memory_budget_mib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemTotal:") return kib / 1024 * 3 / 4;
  return 1024;
}

}  // namespace berth::actors
