#include "agent/work_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "agent/log.hpp"
#include "agent/unique_fd.hpp"

namespace berth::agent {

namespace {

// Opens (creating if needed) the sub-directory `name` of `parent` without following a symlink.
std::expected<UniqueFd, std::string> open_subdir(int parent, const std::string& name, uid_t uid,
                                                 gid_t gid) {
  if (mkdirat(parent, name.c_str(), 0755) == 0) {
    if (fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
      return std::unexpected(errno_text("chown " + name));
  } else if (errno != EEXIST) {
    return std::unexpected(errno_text("mkdir " + name));
  }
  UniqueFd fd(openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return std::unexpected(errno_text("open directory " + name));
  return fd;
}

std::expected<void, std::string> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::unexpected(errno_text("write"));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::expected<void, std::string> write_one(int dir_fd, const messages::SourceFile& file, uid_t uid,
                                           gid_t gid) {
  auto parts = split_job_path(file.name);
  if (!parts) return std::unexpected(parts.error());
  UniqueFd holder;
  int at = dir_fd;
  for (size_t i = 0; i + 1 < parts->size(); ++i) {
    auto sub = open_subdir(at, (*parts)[i], uid, gid);
    if (!sub) return std::unexpected(sub.error());
    holder = std::move(*sub);
    at = holder.get();
  }
  const std::string& base = parts->back();
  // O_NONBLOCK: opening a FIFO the job left here must fail or return at once, never wait.
  UniqueFd fd(
      openat(at, base.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644));
  if (!fd) return std::unexpected(errno_text("open"));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return std::unexpected(errno_text("fstat"));
  // A hard link to a file elsewhere would let the job make root overwrite it.
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
    return std::unexpected("exists and is not a plain regular file");
  if (ftruncate(fd.get(), 0) != 0) return std::unexpected(errno_text("truncate"));
  if (fchown(fd.get(), uid, gid) != 0) return std::unexpected(errno_text("chown"));
  return write_all(fd.get(), file.content);
}

}  // namespace

std::expected<void, std::string> prepare_work_dir(const std::string& dir, uid_t uid, gid_t gid) {
  std::string path;
  size_t pos = 1;
  while (pos <= dir.size()) {
    auto slash = dir.find('/', pos);
    if (slash == std::string::npos) slash = dir.size();
    path = dir.substr(0, slash);
    pos = slash + 1;
    if (path.empty() || path.back() == '/') continue;
    if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      return std::unexpected(errno_text("mkdir " + path));
  }
  if (chown(dir.c_str(), uid, gid) != 0) return std::unexpected(errno_text("chown " + dir));
  if (chmod(dir.c_str(), 0755) != 0) return std::unexpected(errno_text("chmod " + dir));
  return {};
}

std::expected<std::vector<std::string>, std::string> split_job_path(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return std::unexpected("bad file name '" + std::string(name) + "': " + std::string(why));
  };
  if (name.empty()) return bad("empty");
  if (name.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  if (name.front() == '/') return bad("absolute");
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= name.size()) {
    auto slash = name.find('/', pos);
    if (slash == std::string_view::npos) slash = name.size();
    auto part = name.substr(pos, slash - pos);
    pos = slash + 1;
    if (part == "..") return bad("'..' component");
    if (part.empty() || part == ".") continue;
    if (part.size() > 255) return bad("component longer than 255 bytes");
    parts.emplace_back(part);
  }
  if (parts.empty()) return bad("names no file");
  if (name.back() == '/') return bad("names a directory");
  return parts;
}

std::expected<void, std::string> write_files(const std::string& dir,
                                             const std::vector<messages::SourceFile>& files,
                                             uid_t uid, gid_t gid) {
  UniqueFd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return std::unexpected(errno_text("open work dir " + dir));
  for (const auto& f : files) {
    auto r = write_one(dir_fd.get(), f, uid, gid);
    if (!r) {
      // split_job_path's errors already name the file; the others get its name here.
      if (r.error().starts_with("bad file name")) return r;
      return std::unexpected("cannot write file '" + f.name + "': " + r.error());
    }
  }
  return {};
}

}  // namespace berth::agent
