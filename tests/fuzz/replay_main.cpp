// The main() a fuzz target gets outside libFuzzer (the normal g++ build, CTest's
// fuzz.replay.<name>): runs every file named, or every file of every directory named, through
// LLVMFuzzerTestOneInput once, in name order. A crash or an abort (FUZZ_CHECK, a failed
// assertion) ends the process and so fails the test; an empty or missing corpus fails too, so
// that a test cannot pass by running nothing.
//
//   fuzz_<name> DIR|FILE...        replay
//   fuzz_<name> --write-seeds DIR  write the target's seeds (fuzz_support.hpp) into DIR
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fs = std::filesystem;

namespace {

int write_seeds(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "%s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  for (const auto& s : berth::fuzz::seeds()) {
    std::ofstream out(dir / s.name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(s.bytes.data()),
              static_cast<std::streamsize>(s.bytes.size()));
    if (!out) {
      std::fprintf(stderr, "%s: write failed\n", (dir / s.name).c_str());
      return 1;
    }
    std::printf("wrote %s (%zu bytes)\n", (dir / s.name).c_str(), s.bytes.size());
  }
  return 0;
}

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  if (argc == 3 && std::string_view(argv[1]) == "--write-seeds") return write_seeds(argv[2]);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR|FILE... | --write-seeds DIR\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    if (fs::is_directory(argv[i], ec)) {
      for (const auto& e : fs::directory_iterator(argv[i]))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(argv[i], ec)) {
      files.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 1;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "no inputs to replay\n");
    return 1;
  }
  std::sort(files.begin(), files.end());
  auto start = std::chrono::steady_clock::now();
  for (const auto& f : files) {
    // Named before it runs: if it crashes, the last line says which input did it.
    std::printf("replaying %s\n", f.c_str());
    std::fflush(stdout);
    auto bytes = read_all(f);
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  std::printf("%zu inputs replayed in %lld ms\n", files.size(), static_cast<long long>(ms));
  for (const auto* t : berth::fuzz::Tally::all())
    std::printf("  %-28s %llu\n", t->name(), static_cast<unsigned long long>(t->count()));
  return 0;
}
