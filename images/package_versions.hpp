#pragma once
// The Debian packages installed in an image root and their versions, read from its dpkg
// database: part of the image's key and of its metadata.
#include <expected>
#include <filesystem>
#include <map>
#include <string>

namespace berth::images {

using PackageVersions = std::map<std::string, std::string>;  // name -> version

std::expected<PackageVersions, std::string> installed_packages(const std::filesystem::path& root,
                                                               const std::filesystem::path& log);

// "name=version\n" per package, sorted: the form hashed into keys.
std::string package_lines(const PackageVersions& p);

}  // namespace berth::images
