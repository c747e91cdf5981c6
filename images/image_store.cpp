#include "images/image_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "images/command.hpp"
#include "images/cpio_writer.hpp"
#include "images/remove_tree.hpp"
#include "images/trim.hpp"
#include "images/zstd_writer.hpp"
#include "messages/sha256.hpp"

namespace berth::images {

namespace {
namespace fs = std::filesystem;
using messages::Sha256;
using messages::sha256_file;
using nlohmann::json;

// Bump when the way a layer or an image is made changes, so old ones are not reused.
constexpr std::string_view kRecipe = "mmdebstrap-essential-bookworm-trimmed-v3";
constexpr std::string_view kPackRecipe = "cpio-newc-zstd3-agent-init-v1";
constexpr const char* kInitramfs = "initramfs.cpio.zst";

// Mount points the jail binds over and the agent mounts in a VM: the root is read-only, so
// they must exist in the image.
constexpr const char* kMountPoints[] = {"work",
                                        "tmp",
                                        ".berth",
                                        "proc",
                                        "sys",
                                        "dev",
                                        "sys/fs/cgroup/memory",
                                        "sys/fs/cgroup/pids",
                                        "sys/fs/cgroup/cpuacct"};

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : std::string(1, sep)) + s;
  return out;
}

std::string now_iso() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::optional<json> read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  auto j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// Written aside and renamed, so a reader never sees half a file.
bool write_file_atomic(const fs::path& p, const std::string& text) {
  auto tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  return !ec;
}

class FileLock {
 public:
  FileLock(const fs::path& p, bool wait)
      : fd_(open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0 && flock(fd_, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }
  bool held() const { return fd_ >= 0; }

 private:
  int fd_;
};

fs::path lock_path(const fs::path& root, const std::string& language) {
  return root / (".lock-" + language);
}

// The agent's digest, recomputed only when the file changes (find() runs for every job).
std::expected<std::string, std::string> agent_digest(const fs::path& agent) {
  static std::mutex mu;
  static std::map<std::string, std::pair<std::string, std::string>> cache;  // path -> (stamp, sha)
  std::error_code ec;
  auto size = fs::file_size(agent, ec);
  if (ec) return std::unexpected("agent binary " + agent.string() + ": " + ec.message());
  auto mtime = fs::last_write_time(agent, ec).time_since_epoch().count();
  auto stamp = std::to_string(size) + ":" + std::to_string(mtime);
  std::lock_guard lock(mu);
  if (auto it = cache.find(agent.string()); it != cache.end() && it->second.first == stamp)
    return it->second.second;
  auto sha = sha256_file(agent);
  if (!sha) return std::unexpected(sha.error());
  cache[agent.string()] = {stamp, *sha};
  return *sha;
}

std::string image_key(const std::string& rootfs_key, const std::string& agent_sha) {
  return Sha256()
      .update(kPackRecipe)
      .update("\n")
      .update(rootfs_key)
      .update("\n")
      .update(agent_sha)
      .hex();
}

// The recipe: how a layer is built, including what trimming removes.
std::string recipe() {
  std::string r(kRecipe);
  for (auto& p : default_trim()) r += "\n" + p;
  return r;
}

// One line per build or pack: the history operators read, and what tests count.
void record(const fs::path& root, const std::string& line) {
  std::ofstream(root / "builds.log", std::ios::app) << now_iso() << " " << line << "\n";
}
}  // namespace

std::string ImageStore::definition_key(const Language& lang) {
  return Sha256().update(recipe()).update("\n").update(lang.definition).hex();
}

fs::path ImageStore::pointer_for(const Language& lang) const {
  return root_ / "layers" / (lang.name + "-" + definition_key(lang).substr(0, 16) + ".current");
}

std::optional<Layer> ImageStore::find_layer(const Language& lang) const {
  std::ifstream in(pointer_for(lang));
  std::string name;
  if (!std::getline(in, name) || name.empty() || name.find('/') != std::string::npos)
    return std::nullopt;
  auto dir = root_ / "layers" / name;
  auto meta = read_json(dir / "layer.json");
  if (!meta || !fs::is_directory(dir / "rootfs")) return std::nullopt;
  Layer l{meta->value("key", ""), dir, {}};
  if (auto p = meta->find("packages"); p != meta->end() && p->is_object())
    for (auto& [k, v] : p->items())
      if (v.is_string()) l.packages[k] = v.get<std::string>();
  if (l.key.empty()) return std::nullopt;
  return l;
}

std::optional<Image> ImageStore::image_for(const Language& lang, const Layer& layer,
                                           const std::string& agent_sha) const {
  auto key = image_key(layer.key, agent_sha);
  auto dir = root_ / (lang.name + "-" + key.substr(0, 16));
  if (!fs::exists(dir / "metadata.json")) return std::nullopt;
  return Image{key, dir, layer.dir / "rootfs", dir / kInitramfs};
}

std::optional<Image> ImageStore::find(const Language& lang) const {
  auto layer = find_layer(lang);
  if (!layer) return std::nullopt;
  auto sha = agent_digest(agent_);
  if (!sha) return std::nullopt;
  return image_for(lang, *layer, *sha);
}

std::expected<Image, std::string> ImageStore::ensure(const Language& lang, bool refresh) {
  if (!refresh)
    if (auto img = find(lang)) return *img;
  auto sha = agent_digest(agent_);
  if (!sha) return std::unexpected(sha.error());
  std::error_code ec;
  fs::create_directories(root_ / "layers", ec);
  if (ec) return std::unexpected("image directory " + root_.string() + ": " + ec.message());
  FileLock lock(lock_path(root_, lang.name), true);
  if (!lock.held())
    return std::unexpected("lock in " + root_.string() + ": " + std::strerror(errno));
  std::optional<Layer> layer = refresh ? std::nullopt : find_layer(lang);
  if (!layer) {  // nobody built it while we waited for the lock
    auto built = build_layer(lang);
    if (!built) return std::unexpected(built.error());
    layer = std::move(*built);
  }
  if (auto img = image_for(lang, *layer, *sha)) return *img;
  return pack(lang, *layer, *sha);
}

std::expected<Layer, std::string> ImageStore::build_layer(const Language& lang) {
  auto dkey = definition_key(lang);
  auto tmp = root_ / (".building-layer-" + lang.name + "-" + dkey.substr(0, 16));
  std::error_code ec;
  if (auto r = remove_tree(tmp); !r) return std::unexpected(r.error());  // a build that died
  fs::create_directories(tmp, ec);
  if (ec) return std::unexpected("create " + tmp.string() + ": " + ec.message());
  auto fail = [&](const std::string& why) {
    auto msg = "building the " + lang.name + " image failed: " + why;
    if (auto r = remove_tree(tmp); !r) msg += " (cleanup: " + r.error() + ")";
    return std::unexpected(msg);
  };
  auto started = std::chrono::steady_clock::now();
  auto rootfs = tmp / "rootfs";
  std::vector<std::string> argv = {
      "mmdebstrap", "--variant=essential", "--include=" + join(lang.packages, ','),
      "--aptopt=APT::Install-Recommends \"false\"",
      // openjdk's postinst fails without it; trimmed afterwards.
      "--setup-hook=mkdir -p \"$1/usr/share/man/man1\"", "--dpkgopt=path-exclude=/usr/share/doc/*",
      "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
      "--dpkgopt=path-exclude=/usr/share/info/*", "bookworm", rootfs.string()};
  auto log = tmp / "build.log";
  if (auto built = run_command(argv, log, std::chrono::seconds(1800)); !built)
    return fail(built.error());
  auto packages = installed_packages(rootfs, log);
  if (!packages) return fail(packages.error());
  auto before = tree_bytes(rootfs);
  auto freed = trim_rootfs(rootfs, lang);
  if (!freed) return fail(freed.error());
  for (auto* m : kMountPoints) fs::create_directories(rootfs / m, ec);
  auto key = Sha256()
                 .update(recipe())
                 .update("\n")
                 .update(lang.definition)
                 .update("\n")
                 .update(package_lines(*packages))
                 .hex();
  auto name = lang.name + "-" + key.substr(0, 16);
  auto final_dir = root_ / "layers" / name;
  json pkgs = json::object();
  for (auto& [k, v] : *packages) pkgs[k] = v;
  json meta = {{"key", key},
               {"language", lang.name},
               {"version", lang.version},
               {"definition_key", dkey},
               {"packages", pkgs},
               {"requested_packages", lang.packages},
               {"rootfs_bytes", before - *freed},
               {"trimmed_bytes", *freed},
               {"build_seconds", seconds_since(started)},
               {"built_at", now_iso()}};
  if (fs::exists(final_dir / "layer.json")) {
    // The same versions resolved again: the layer we have is this one.
    if (auto r = remove_tree(tmp); !r) return std::unexpected(r.error());
  } else {
    if (!write_file_atomic(tmp / "layer.json", meta.dump(2) + "\n"))
      return fail("write " + (tmp / "layer.json").string());
    if (auto r = remove_tree(final_dir); !r) return fail(r.error());
    fs::rename(tmp, final_dir, ec);
    if (ec) return fail("move layer into " + final_dir.string() + ": " + ec.message());
  }
  record(root_, "built layer " + name + " in " +
                    std::to_string(meta["build_seconds"].get<double>()) + " s");
  if (!write_file_atomic(pointer_for(lang), name + "\n"))
    return std::unexpected("write " + pointer_for(lang).string());
  auto layer = find_layer(lang);
  if (!layer) return std::unexpected("layer " + final_dir.string() + " is unreadable after build");
  return *layer;
}

std::expected<Image, std::string> ImageStore::pack(const Language& lang, const Layer& layer,
                                                   const std::string& agent_sha) {
  auto key = image_key(layer.key, agent_sha);
  auto final_dir = root_ / (lang.name + "-" + key.substr(0, 16));
  auto tmp = root_ / (".building-" + final_dir.filename().string());
  std::error_code ec;
  if (auto r = remove_tree(tmp); !r) return std::unexpected(r.error());
  fs::create_directories(tmp, ec);
  if (ec) return std::unexpected("create " + tmp.string() + ": " + ec.message());
  auto fail = [&](const std::string& why) {
    auto msg = "packing the " + lang.name + " image failed: " + why;
    if (auto r = remove_tree(tmp); !r) msg += " (cleanup: " + r.error() + ")";
    return std::unexpected(msg);
  };
  auto started = std::chrono::steady_clock::now();
  auto out = ZstdWriter::open(tmp / kInitramfs);
  if (!out) return fail(out.error());
  CpioWriter cpio([&](std::span<const uint8_t> d) { return out->write(d); });
  if (auto r = cpio.add_tree(layer.dir / "rootfs"); !r) return fail(r.error());
  // The kernel runs /init of the initramfs: the agent is PID 1.
  if (auto r = cpio.add_file(agent_, "init", 0755); !r) return fail(r.error());
  if (auto r = cpio.finish(); !r) return fail(r.error());
  if (auto r = out->finish(); !r) return fail(r.error());
  auto layer_meta = read_json(layer.dir / "layer.json").value_or(json::object());
  json meta = {{"key", key},
               {"language", lang.name},
               {"version", lang.version},
               {"rootfs_key", layer.key},
               {"rootfs", (layer.dir / "rootfs").string()},
               {"agent", agent_.string()},
               {"agent_sha256", agent_sha},
               {"packages", layer_meta.value("packages", json::object())},
               {"rootfs_bytes", layer_meta.value("rootfs_bytes", 0)},
               {"initramfs_bytes", out->bytes_out()},
               {"initramfs_unpacked_bytes", out->bytes_in()},
               {"build_seconds", layer_meta.value("build_seconds", 0.0)},
               {"pack_seconds", seconds_since(started)},
               {"built_at", now_iso()}};
  if (!write_file_atomic(tmp / "metadata.json", meta.dump(2) + "\n"))
    return fail("write " + (tmp / "metadata.json").string());
  if (auto r = remove_tree(final_dir); !r) return fail(r.error());
  fs::rename(tmp, final_dir, ec);
  if (ec) return fail("move image into " + final_dir.string() + ": " + ec.message());
  record(root_, "packed image " + final_dir.filename().string());
  return Image{key, final_dir, layer.dir / "rootfs", final_dir / kInitramfs};
}

std::expected<GcResult, std::string> ImageStore::gc(const LanguageCatalog& catalog, bool dry_run) {
  GcResult res;
  std::set<fs::path> keep;
  for (auto& [name, lang] : catalog.all()) {
    if (auto layer = find_layer(lang)) {
      keep.insert(layer->dir);
      keep.insert(pointer_for(lang));
    }
    if (auto img = find(lang)) keep.insert(img->dir);
  }
  auto language_of = [](const std::string& file) {
    auto f = file;
    if (f.rfind(".building-layer-", 0) == 0)
      f = f.substr(16);
    else if (f.rfind(".building-", 0) == 0)
      f = f.substr(10);
    auto dash = f.rfind('-');
    return dash == std::string::npos ? std::string() : f.substr(0, dash);
  };
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& d : {root_, root_ / "layers"}) {
    if (!fs::is_directory(d)) continue;
    for (auto& e : fs::directory_iterator(d, ec)) {
      auto n = e.path().filename().string();
      if (n == "layers" || n.rfind(".lock-", 0) == 0 || n.ends_with(".tmp")) continue;
      if (!keep.contains(e.path())) candidates.push_back(e.path());
    }
  }
  for (auto& p : candidates) {
    auto lang = language_of(p.filename().string());
    if (lang.empty()) continue;  // not ours
    // A build in progress holds the language's lock: leave its files alone.
    FileLock lock(lock_path(root_, lang), false);
    if (!lock.held()) {
      res.skipped.push_back(p.string() + " (a " + lang + " build is in progress)");
      continue;
    }
    res.bytes += tree_bytes(p);
    res.removed.push_back(p);
    if (!dry_run) {
      if (auto r = remove_tree(p); !r) return std::unexpected(r.error());
    }
  }
  return res;
}

fs::path default_image_dir() {
  if (const char* d = std::getenv("BERTH_IMAGE_DIR"); d && *d) return d;
  return "/var/cache/berth/images";
}

}  // namespace berth::images
