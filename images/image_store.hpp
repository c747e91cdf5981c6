#pragma once
// Content-addressed language images on disk (DESIGN.md §1, issue 4). Two layers, so that a new
// agent binary repacks in seconds instead of rebuilding every rootfs:
//
//   <root>/layers/<lang>-<rootfs key>/rootfs/   the unpacked, trimmed root (the jail's root)
//   <root>/layers/<lang>-<rootfs key>/layer.json
//   <root>/layers/<lang>-<definition key>.current   which layer the language file resolved to
//   <root>/<lang>-<image key>/initramfs.cpio.zst  rootfs + agent as /init (the kvm initramfs)
//   <root>/<lang>-<image key>/metadata.json         key, sizes, packages, build times
//
// definition key = sha256(recipe, language file): what we control, known without building.
// rootfs key     = sha256(recipe, language file, the package versions the build resolved).
// image key      = sha256(pack recipe, rootfs key, agent binary's sha256).
// An unchanged language file and agent never rebuild; `refresh` resolves packages again and
// gives a new key only if a version changed. Every directory appears complete or not at all
// (built under .building-*, then renamed into place); builds of one language are serialised by
// a file lock, so concurrent callers in any process get one build.
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "images/language.hpp"
#include "images/package_versions.hpp"

namespace berth::images {

struct Image {
  std::string key;
  std::filesystem::path dir;
  std::filesystem::path rootfs;     // the unpacked layer: the jail's root
  std::filesystem::path initramfs;  // dir/initramfs.cpio.zst: the kvm runtime's initramfs
};

struct Layer {
  std::string key;
  std::filesystem::path dir;
  PackageVersions packages;
};

struct GcResult {
  std::vector<std::filesystem::path> removed;
  std::vector<std::string> skipped;  // in use by a build, with the reason
  uint64_t bytes = 0;
};

class ImageStore {
 public:
  // `agent` is the berth-agent binary every image carries as /init (the jail binds the same
  // file from the worker's agent_path).
  ImageStore(std::filesystem::path root, std::filesystem::path agent)
      : root_(std::move(root)), agent_(std::move(agent)) {}

  static std::string definition_key(const Language& lang);
  // The language's current rootfs layer, if it was built.
  std::optional<Layer> find_layer(const Language& lang) const;
  // The complete image for this language and agent, if it exists. Reads no network.
  std::optional<Image> find(const Language& lang) const;
  // Builds whatever is missing: the rootfs layer (mmdebstrap, about a minute) and the packed
  // image (seconds). Blocks; concurrent callers wait on the lock and share the result.
  std::expected<Image, std::string> ensure(const Language& lang, bool refresh = false);
  // Removes images and layers that no language of `catalog` uses with this agent, and leftovers
  // of builds that died. Skips a language whose build is in progress.
  std::expected<GcResult, std::string> gc(const LanguageCatalog& catalog, bool dry_run);

  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& agent() const { return agent_; }

 private:
  std::expected<Layer, std::string> build_layer(const Language& lang);
  std::expected<Image, std::string> pack(const Language& lang, const Layer& layer,
                                         const std::string& agent_sha);
  std::optional<Image> image_for(const Language& lang, const Layer& layer,
                                 const std::string& agent_sha) const;
  std::filesystem::path pointer_for(const Language& lang) const;
  std::filesystem::path root_, agent_;
};

// $BERTH_IMAGE_DIR, else /var/cache/berth/images: outside any build tree, so a clean build
// reuses what was built before.
std::filesystem::path default_image_dir();

}  // namespace berth::images
