#pragma once
// Runs a build tool (mmdebstrap, cpio, …) to completion with its output in a log file.
#include <chrono>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace berth::images {

// Error text: the command, how it ended, and the last lines of its log.
std::expected<void, std::string> run_command(const std::vector<std::string>& argv,
                                             const std::filesystem::path& log,
                                             std::chrono::seconds timeout);

std::string tail_of_file(const std::filesystem::path& file, size_t max_bytes);

}  // namespace berth::images
