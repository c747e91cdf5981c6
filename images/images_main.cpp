// berth-images: build and list language images by hand (the worker builds missing ones on
// demand too). `gc` and package pinning come with the general builder (issue 4).
#include <cstdio>

#include <CLI/CLI.hpp>

#include "images/image_store.hpp"
#include "images/language.hpp"

using namespace berth::images;

int main(int argc, char** argv) {
  CLI::App app{"berth-images: language images for berth"};
  std::string image_dir = default_image_dir().string();
  std::string languages_dir = default_languages_dir().string();
  app.add_option("--image-dir", image_dir, "where images are kept")->envname("BERTH_IMAGE_DIR");
  app.add_option("--languages-dir", languages_dir, "language definitions")
      ->envname("BERTH_LANGUAGES_DIR");
  auto* build =
      app.add_subcommand("build", "build the images of the named languages (all if none)");
  std::vector<std::string> names;
  build->add_option("languages", names);
  auto* list = app.add_subcommand("list", "list languages and whether their image is built");
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);

  auto catalog = LanguageCatalog::load(languages_dir);
  if (!catalog) {
    fprintf(stderr, "berth-images: %s\n", catalog.error().c_str());
    return 1;
  }
  ImageStore store(image_dir);
  if (*list) {
    for (auto& [name, lang] : catalog->all()) {
      auto img = store.find(lang);
      printf("%-12s %-8s %s\n", name.c_str(), lang.version.c_str(),
             img ? img->dir.c_str() : "(not built)");
    }
    return 0;
  }
  if (names.empty())
    for (auto& [name, _] : catalog->all()) names.push_back(name);
  int failed = 0;
  for (auto& name : names) {
    auto* lang = catalog->find(name);
    if (!lang) {
      fprintf(stderr, "berth-images: unknown language '%s'\n", name.c_str());
      failed++;
      continue;
    }
    printf("%s: ", name.c_str());
    fflush(stdout);
    auto img = store.ensure(*lang);
    if (!img) {
      printf("failed\n%s\n", img.error().c_str());
      failed++;
    } else {
      printf("%s\n", img->dir.c_str());
    }
  }
  return failed ? 1 : 0;
}
