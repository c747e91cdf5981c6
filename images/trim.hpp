#pragma once
// Trimming an image's root of what no job needs (documentation, man pages, locales, package
// manager caches, perl where the language is not perl): every byte of an initramfs is
// decompressed by the guest at each boot.
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "images/language.hpp"

namespace berth::images {

// The paths (globs relative to the root) removed from every image unless a language keeps them.
const std::vector<std::string>& default_trim();

// Removes the default set minus lang.keep, plus lang.trim, from `root`. A match whose directory
// resolves outside `root` (through an absolute symlink) is refused, not followed. Returns the
// bytes freed.
std::expected<uint64_t, std::string> trim_rootfs(const std::filesystem::path& root,
                                                 const Language& lang);

// Bytes of the regular files under `dir` (symlinks not followed).
uint64_t tree_bytes(const std::filesystem::path& dir);

}  // namespace berth::images
