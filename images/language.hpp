#pragma once
// A language definition: images/languages/<name>.toml. It names the Debian packages of the
// image, the entry file, the commands of each step and the limits a job gets by default.
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "messages/limits.hpp"

namespace berth::images {

struct Language {
  std::string name;
  std::string version;
  std::vector<std::string> packages;
  std::string source_file;
  std::vector<std::string> compile;  // empty: interpreted, no compile step
  std::vector<std::string> run;      // the job's args are appended
  std::map<std::string, std::string> env;
  messages::Limits default_limits;
  // [image] trim: paths (globs, relative to the image root) removed from this language's image
  // beyond the default set; keep: entries of the default set this language needs.
  std::vector<std::string> trim;
  std::vector<std::string> keep;
  std::string definition;  // the file's text: part of the image key
};

std::expected<Language, std::string> parse_language(const std::string& text,
                                                    const std::string& origin);

class LanguageCatalog {
 public:
  // Loads every *.toml in `dir`; a file that does not parse is an error naming it.
  static std::expected<LanguageCatalog, std::string> load(const std::filesystem::path& dir);
  const Language* find(const std::string& name) const;
  const std::map<std::string, Language>& all() const { return languages_; }

 private:
  std::map<std::string, Language> languages_;
};

// Where the language files live: $BERTH_LANGUAGES_DIR, else the source tree's copy.
std::filesystem::path default_languages_dir();

}  // namespace berth::images
