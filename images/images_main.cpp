// berth-images: build, list and garbage-collect language images by hand (the worker builds
// missing ones on demand too).
#include <cstdio>
#include <fstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "images/image_store.hpp"
#include "images/language.hpp"

using namespace berth::images;

namespace {

std::string human(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / double(1ull << 30));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(1ull << 20));
  return buf;
}

nlohmann::json metadata(const Image& img) {
  std::ifstream in(img.dir / "metadata.json");
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

int build(ImageStore& store, const LanguageCatalog& catalog, std::vector<std::string> names,
          bool refresh) {
  if (names.empty())
    for (auto& [name, _] : catalog.all()) names.push_back(name);
  int failed = 0;
  for (auto& name : names) {
    auto* lang = catalog.find(name);
    if (!lang) {
      fprintf(stderr, "berth-images: unknown language '%s'\n", name.c_str());
      failed++;
      continue;
    }
    printf("%s: ", name.c_str());
    fflush(stdout);
    auto img = store.ensure(*lang, refresh);
    if (!img) {
      printf("failed\n");
      fprintf(stderr, "%s\n", img.error().c_str());
      failed++;
      continue;
    }
    auto m = metadata(*img);
    printf("%s (rootfs %s, initramfs %s, built in %.0f s, packed in %.1f s)\n", img->dir.c_str(),
           human(m.value("rootfs_bytes", 0ull)).c_str(),
           human(m.value("initramfs_bytes", 0ull)).c_str(), m.value("build_seconds", 0.0),
           m.value("pack_seconds", 0.0));
  }
  return failed ? 1 : 0;
}

void list(const ImageStore& store, const LanguageCatalog& catalog, bool as_json) {
  nlohmann::json all = nlohmann::json::array();
  for (auto& [name, lang] : catalog.all()) {
    auto img = store.find(lang);
    nlohmann::json j = {{"language", name}, {"version", lang.version}, {"built", bool(img)}};
    if (img) {
      auto m = metadata(*img);
      j["key"] = img->key;
      j["dir"] = img->dir.string();
      for (auto* k : {"rootfs_bytes", "initramfs_bytes", "build_seconds", "built_at"})
        if (m.contains(k)) j[k] = m[k];
    }
    all.push_back(j);
    if (!as_json)
      printf("%-12s %-8s %-18s %10s %10s\n", name.c_str(), lang.version.c_str(),
             img ? img->key.substr(0, 16).c_str() : "(not built)",
             img ? human(j.value("rootfs_bytes", 0ull)).c_str() : "",
             img ? human(j.value("initramfs_bytes", 0ull)).c_str() : "");
  }
  if (as_json) printf("%s\n", all.dump(2).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth-images: language images for berth"};
  std::string image_dir = default_image_dir().string();
  std::string languages_dir = default_languages_dir().string();
  std::string agent = BERTH_DEFAULT_AGENT_PATH;
  app.add_option("--image-dir", image_dir, "where images are kept")->envname("BERTH_IMAGE_DIR");
  app.add_option("--languages-dir", languages_dir, "language definitions")
      ->envname("BERTH_LANGUAGES_DIR");
  app.add_option("--agent", agent, "the berth-agent binary images carry")->envname("BERTH_AGENT");
  auto* build_cmd =
      app.add_subcommand("build", "build the images of the named languages (all if none)");
  std::vector<std::string> names;
  bool refresh = false;
  build_cmd->add_option("languages", names);
  build_cmd->add_flag("--refresh", refresh,
                      "resolve packages again; a new image only if a version changed");
  auto* list_cmd = app.add_subcommand("list", "list languages and whether their image is built");
  bool as_json = false;
  list_cmd->add_flag("--json", as_json, "print JSON");
  auto* gc_cmd = app.add_subcommand(
      "gc",
      "remove images and layers no language uses with this agent (stop workers that use "
      "another agent first)");
  bool dry_run = false;
  gc_cmd->add_flag("--dry-run", dry_run, "only print what would be removed");
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);

  auto catalog = LanguageCatalog::load(languages_dir);
  if (!catalog) {
    fprintf(stderr, "berth-images: %s\n", catalog.error().c_str());
    return 1;
  }
  ImageStore store(image_dir, agent);
  if (*list_cmd) {
    list(store, *catalog, as_json);
    return 0;
  }
  if (*gc_cmd) {
    auto r = store.gc(*catalog, dry_run);
    if (!r) {
      fprintf(stderr, "berth-images: gc: %s\n", r.error().c_str());
      return 1;
    }
    for (auto& p : r->removed) printf("%s %s\n", dry_run ? "would remove" : "removed", p.c_str());
    for (auto& s : r->skipped) printf("skipped %s\n", s.c_str());
    printf("%s %s\n", dry_run ? "would free" : "freed", human(r->bytes).c_str());
    return 0;
  }
  return build(store, *catalog, names, refresh);
}
