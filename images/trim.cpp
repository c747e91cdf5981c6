#include "images/trim.hpp"

#include <glob.h>

#include <algorithm>

namespace berth::images {

namespace fs = std::filesystem;

const std::vector<std::string>& default_trim() {
  static const std::vector<std::string> paths = {
      "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
      "usr/share/common-licenses", "usr/share/bug", "usr/share/menu",
      // perl comes with Debian's essential set (debconf needs it); jobs only need it for perl.
      "usr/share/perl", "usr/share/perl5", "usr/lib/x86_64-linux-gnu/perl",
      "usr/lib/x86_64-linux-gnu/perl5", "usr/lib/x86_64-linux-gnu/perl-base",
      "usr/lib/x86_64-linux-gnu/libperl.so*", "usr/bin/perl", "usr/bin/perl5*",
      // The package manager's state and caches: an image is never upgraded in place.
      "var/cache/apt", "var/lib/apt/lists", "var/cache/debconf", "var/log/*", "usr/share/zsh",
      // iconv's loadable charsets: UTF-8, ASCII and Latin-1 are built into glibc.
      "usr/lib/x86_64-linux-gnu/gconv"};
  return paths;
}

uint64_t tree_bytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  if (fs::is_regular_file(fs::symlink_status(dir, ec))) return fs::file_size(dir, ec);
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       it != end; it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
  }
  return total;
}

std::expected<uint64_t, std::string> trim_rootfs(const fs::path& root, const Language& lang) {
  std::error_code ec;
  auto real_root = fs::canonical(root, ec);
  if (ec) return std::unexpected("image root " + root.string() + ": " + ec.message());
  std::vector<std::string> patterns;
  for (auto& p : default_trim())
    if (std::find(lang.keep.begin(), lang.keep.end(), p) == lang.keep.end()) patterns.push_back(p);
  patterns.insert(patterns.end(), lang.trim.begin(), lang.trim.end());

  uint64_t freed = 0;
  for (auto& pattern : patterns) {
    glob_t g{};
    auto full = (real_root / pattern).string();
    int rc = glob(full.c_str(), GLOB_NOSORT, nullptr, &g);
    if (rc == GLOB_NOMATCH) continue;
    if (rc != 0) {
      globfree(&g);
      return std::unexpected("trim pattern '" + pattern + "' could not be expanded");
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      fs::path match = g.gl_pathv[i];
      auto parent = fs::canonical(match.parent_path(), ec);
      auto rel = parent.lexically_relative(real_root);
      if (ec || rel.empty() || *rel.begin() == "..") {
        globfree(&g);
        return std::unexpected("trim pattern '" + pattern + "' reaches outside the image (" +
                               match.string() + ")");
      }
      freed += tree_bytes(match);
      fs::remove_all(match, ec);
      if (ec) {
        globfree(&g);
        return std::unexpected("remove " + match.string() + ": " + ec.message());
      }
    }
    globfree(&g);
  }
  return freed;
}

}  // namespace berth::images
