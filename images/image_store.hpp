#pragma once
// Content-addressed language images on disk: <root>/<language>-<key prefix>/ holds rootfs/
// (the unpacked image, the jail's root) and metadata.json. A key names its inputs; an image
// directory appears only complete (built aside, then renamed into place).
#include <expected>
#include <filesystem>
#include <optional>
#include <string>

#include "images/language.hpp"

namespace berth::images {

struct Image {
  std::string key;
  std::filesystem::path dir;
  std::filesystem::path rootfs;
};

class ImageStore {
 public:
  explicit ImageStore(std::filesystem::path root) : root_(std::move(root)) {}

  // Covers the language file and the recipe below; package version pinning is issue 4's.
  static std::string key_for(const Language& lang);
  std::optional<Image> find(const Language& lang) const;
  // Builds the image if it is missing. Blocks for as long as mmdebstrap takes (~1 min);
  // concurrent callers, in this process or another, wait on a lock and build it once.
  std::expected<Image, std::string> ensure(const Language& lang);
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path dir_for(const Language& lang) const;
  std::expected<Image, std::string> build_locked(const Language& lang);
  std::filesystem::path root_;
};

// $BERTH_IMAGE_DIR, else /var/cache/berth/images: outside any build tree, so a clean build
// reuses what was built before.
std::filesystem::path default_image_dir();

}  // namespace berth::images
