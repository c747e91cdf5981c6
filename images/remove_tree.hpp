#pragma once
// Removing a build directory safely. mmdebstrap mounts /proc, /sys and device nodes inside the
// root it builds; a build that died (killed, timed out) can leave them mounted, and a plain
// recursive delete would then walk into the host's /proc, /sys or /dev.
#include <expected>
#include <filesystem>
#include <string>

namespace berth::images {

// Detaches every mount at or below `dir`, then deletes the tree without crossing into another
// filesystem. Missing `dir` is not an error.
std::expected<void, std::string> remove_tree(const std::filesystem::path& dir);

}  // namespace berth::images
