#include "images/image_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include "images/command.hpp"
#include "images/sha256.hpp"

namespace berth::images {

namespace {
namespace fs = std::filesystem;

// Bump when the way an image is built changes, so old images are not reused.
constexpr std::string_view kRecipe = "mmdebstrap-essential-bookworm-v1";

// Mount points the jail binds over: the root is read-only, so they must exist in the image.
constexpr const char* kMountPoints[] = {
    "work", "tmp", ".berth", "sys/fs/cgroup/memory", "sys/fs/cgroup/pids", "sys/fs/cgroup/cpuacct"};

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : std::string(1, sep)) + s;
  return out;
}

class FileLock {
 public:
  explicit FileLock(const fs::path& p) : fd_(open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};
}  // namespace

std::string ImageStore::key_for(const Language& lang) {
  return Sha256().update(kRecipe).update("\n").update(lang.definition).hex();
}

fs::path ImageStore::dir_for(const Language& lang) const {
  return root_ / (lang.name + "-" + key_for(lang).substr(0, 16));
}

std::optional<Image> ImageStore::find(const Language& lang) const {
  auto dir = dir_for(lang);
  if (!fs::exists(dir / "metadata.json")) return std::nullopt;
  return Image{key_for(lang), dir, dir / "rootfs"};
}

std::expected<Image, std::string> ImageStore::ensure(const Language& lang) {
  if (auto img = find(lang)) return *img;
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return std::unexpected("image directory " + root_.string() + ": " + ec.message());
  FileLock lock(root_ / (".lock-" + lang.name));
  if (!lock.ok()) return std::unexpected("lock in " + root_.string() + ": " + std::strerror(errno));
  if (auto img = find(lang)) return *img;  // built by whoever held the lock
  return build_locked(lang);
}

std::expected<Image, std::string> ImageStore::build_locked(const Language& lang) {
  auto final_dir = dir_for(lang);
  auto tmp = root_ / (".building-" + final_dir.filename().string());
  std::error_code ec;
  fs::remove_all(tmp, ec);  // a build that died half way
  fs::create_directories(tmp, ec);
  if (ec) return std::unexpected("create " + tmp.string() + ": " + ec.message());
  auto started = std::chrono::steady_clock::now();
  std::vector<std::string> argv = {"mmdebstrap",
                                   "--variant=essential",
                                   "--include=" + join(lang.packages, ','),
                                   "--dpkgopt=path-exclude=/usr/share/doc/*",
                                   "--dpkgopt=path-exclude=/usr/share/man/*",
                                   "--dpkgopt=path-exclude=/usr/share/locale/*",
                                   "--dpkgopt=path-exclude=/usr/share/info/*",
                                   "bookworm",
                                   (tmp / "rootfs").string()};
  auto built = run_command(argv, tmp / "build.log", std::chrono::seconds(900));
  if (!built) {
    fs::remove_all(tmp, ec);
    return std::unexpected("building the " + lang.name + " image failed: " + built.error());
  }
  for (auto* m : kMountPoints) fs::create_directories(tmp / "rootfs" / m, ec);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::ofstream meta(tmp / "metadata.json");
    meta << "{\"key\": \"" << key_for(lang) << "\", \"language\": \"" << lang.name
         << "\", \"packages\": \"" << join(lang.packages, ' ') << "\", \"build_seconds\": " << secs
         << "}\n";
    if (!meta) {
      fs::remove_all(tmp, ec);
      return std::unexpected("write metadata in " + tmp.string());
    }
  }
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    return std::unexpected("move image into " + final_dir.string() + ": " + ec.message());
  }
  return Image{key_for(lang), final_dir, final_dir / "rootfs"};
}

fs::path default_image_dir() {
  if (const char* d = std::getenv("BERTH_IMAGE_DIR"); d && *d) return d;
  return "/var/cache/berth/images";
}

}  // namespace berth::images
