#include "images/language.hpp"

#include <gtest/gtest.h>

#include "images/image_store.hpp"

namespace berth::images {
namespace {

TEST(Language, ShippedLanguagesParse) {
  auto c = LanguageCatalog::load(default_languages_dir());
  ASSERT_TRUE(c) << c.error();
  ASSERT_NE(c->find("python"), nullptr);
  ASSERT_NE(c->find("bash"), nullptr);
  EXPECT_EQ(c->find("python")->source_file, "main.py");
  EXPECT_EQ(c->find("python")->env.at("PYTHONUNBUFFERED"), "1");
  EXPECT_EQ(c->find("cobol"), nullptr);
}

TEST(Language, ErrorsNameTheFileAndTheKey) {
  auto r = parse_language(
      "name = \"x\"\nversion = \"1\"\nsource_file = \"a\"\npackages = [\"p\"]\n", "x.toml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("x.toml"), std::string::npos);
  EXPECT_NE(r.error().find("'run'"), std::string::npos) << r.error();
  auto bad = parse_language("name = [", "y.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("y.toml"), std::string::npos);
  auto typed = parse_language(
      "name = \"x\"\nversion = \"1\"\nsource_file = \"a\"\npackages = [1]\nrun = [\"r\"]\n", "z");
  ASSERT_FALSE(typed);
  EXPECT_NE(typed.error().find("packages"), std::string::npos) << typed.error();
}

TEST(Language, LimitsDefaultWhereTheFileIsSilent) {
  auto r = parse_language(
      "name = \"x\"\nversion = \"1\"\nsource_file = \"a\"\npackages = [\"p\"]\nrun = [\"r\"]\n"
      "[limits]\nmemory_mib = 512\n",
      "x.toml");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->default_limits.memory_mib, 512u);
  EXPECT_EQ(r->default_limits.wall_ms, messages::Limits{}.wall_ms);
}

TEST(ImageStore, KeyChangesWithTheLanguageFile) {
  auto a = parse_language(
      "name = \"x\"\nversion = \"1\"\nsource_file = \"a\"\npackages = [\"p\"]\nrun = [\"r\"]\n",
      "x");
  auto b = parse_language(
      "name = \"x\"\nversion = \"2\"\nsource_file = \"a\"\npackages = [\"p\"]\nrun = [\"r\"]\n",
      "x");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(ImageStore::definition_key(*a), ImageStore::definition_key(*a));
  EXPECT_NE(ImageStore::definition_key(*a), ImageStore::definition_key(*b));
  EXPECT_EQ(ImageStore::definition_key(*a).size(), 64u);
}

}  // namespace
}  // namespace berth::images
