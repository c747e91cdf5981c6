// The image builder for real: mmdebstrap from Debian's mirror, content addressing, one build for
// concurrent requests, repacking on an agent change, gc, and a failed build leaving nothing.
// One real rootfs build (about a minute) serves the whole sequence.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"

namespace berth::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

class ImageStoreBuild : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("image-store");
    images_ = dir_ / "images";
    langs_ = dir_ / "languages";
    fs::create_directories(langs_);
    agent_ = dir_ / "agent";
    fs::copy_file(std::string(BERTH_BINARY_DIR) + "/agent/berth-agent", agent_);
    write_language("tiny", "bash");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_language(const std::string& name, const std::string& package,
                      const std::string& extra = "") {
    std::ofstream(langs_ / (name + ".toml"))
        << "# a test language\nname = \"" << name << "\"\nversion = \"1\"\npackages = [\""
        << package << "\"]\nsource_file = \"main.sh\"\nrun = [\"/bin/bash\", \"main.sh\"]\n"
        << extra;
  }

  std::vector<std::string> cli(const fs::path& agent, std::vector<std::string> rest) {
    std::vector<std::string> argv = {std::string(BERTH_BINARY_DIR) + "/images/berth-images",
                                     "--image-dir",
                                     images_.string(),
                                     "--languages-dir",
                                     langs_.string(),
                                     "--agent",
                                     agent.string()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }

  nlohmann::json list(const fs::path& agent) {
    auto r = run(cli(agent, {"list", "--json"}), 30s);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(r.output);
  }

  fs::path dir_, images_, langs_, agent_;
};

TEST_F(ImageStoreBuild, OneBuildContentAddressedRepackOnAgentChangeAndGc) {
  // Two processes ask for the same missing image at once: one build, the same image.
  Process a(cli(agent_, {"build", "tiny"}), dir_ / "a.log");
  Process b(cli(agent_, {"build", "tiny"}), dir_ / "b.log");
  ASSERT_EQ(a.wait(1500s), 0) << a.log_text();
  ASSERT_EQ(b.wait(60s), 0) << b.log_text();
  std::smatch m;
  auto a_out = a.log_text(), b_out = b.log_text();
  ASSERT_TRUE(std::regex_search(a_out, m, std::regex("tiny: (\\S+) ")));
  auto first_dir = m[1].str();
  EXPECT_NE(b_out.find(first_dir), std::string::npos) << b_out;
  auto history = read(images_ / "builds.log");
  EXPECT_EQ(count(history, "built layer"), 1u) << history;
  EXPECT_EQ(count(history, "packed image"), 1u) << history;

  // The metadata names the key, the resolved packages and the sizes.
  auto meta = nlohmann::json::parse(read(fs::path(first_dir) / "metadata.json"));
  EXPECT_EQ(meta["language"], "tiny");
  EXPECT_EQ(meta["key"].get<std::string>().size(), 64u);
  EXPECT_TRUE(meta["packages"].contains("bash")) << meta.dump(2);
  EXPECT_GT(meta["rootfs_bytes"].get<uint64_t>(), 1u << 20);
  EXPECT_GT(meta["initramfs_bytes"].get<uint64_t>(), 1u << 20);
  EXPECT_LT(meta["initramfs_bytes"].get<uint64_t>(), meta["rootfs_bytes"].get<uint64_t>());
  // Trimmed: no documentation in the root; the agent is the initramfs's /init.
  EXPECT_FALSE(fs::exists(fs::path(meta["rootfs"].get<std::string>()) / "usr/share/doc"));
  auto listing = run(
      {"sh", "-c", "zstd -dcq \"$0\" | cpio -t --quiet", first_dir + "/initramfs.cpio.zst"}, 120s);
  ASSERT_EQ(listing.exit_code, 0) << listing.output;
  EXPECT_NE(listing.output.find("\ninit\n"), std::string::npos);
  EXPECT_NE(listing.output.find("usr/bin/bash\n"), std::string::npos);

  // Unchanged inputs: no rebuild, the same key.
  auto again = run(cli(agent_, {"build", "tiny"}), 60s);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(first_dir), std::string::npos) << again.output;
  EXPECT_EQ(read(images_ / "builds.log"), history);

  // A new agent binary: a new image key, packed again from the same layer, no rootfs build.
  auto agent2 = dir_ / "agent2";
  fs::copy_file(agent_, agent2);
  std::ofstream(agent2, std::ios::app) << '\0';
  auto repacked = run(cli(agent2, {"build", "tiny"}), 300s);
  ASSERT_EQ(repacked.exit_code, 0) << repacked.output;
  EXPECT_EQ(repacked.output.find(first_dir), std::string::npos) << repacked.output;
  history = read(images_ / "builds.log");
  EXPECT_EQ(count(history, "built layer"), 1u) << history;
  EXPECT_EQ(count(history, "packed image"), 2u) << history;
  auto listed = list(agent2);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0]["built"].get<bool>());
  EXPECT_NE(listed[0]["dir"], first_dir);

  // gc with the new agent removes the first image and keeps the layer and the current image.
  auto gc = run(cli(agent2, {"gc"}), 60s);
  ASSERT_EQ(gc.exit_code, 0) << gc.output;
  EXPECT_NE(gc.output.find("removed " + first_dir), std::string::npos) << gc.output;
  EXPECT_FALSE(fs::exists(first_dir));
  EXPECT_TRUE(list(agent2)[0]["built"].get<bool>());

  // A changed language file is a different image, not built yet.
  write_language("tiny", "bash", "[env]\nX = \"1\"\n");
  EXPECT_FALSE(list(agent2)[0]["built"].get<bool>());
}

TEST_F(ImageStoreBuild, FailedBuildSaysWhyAndLeavesNothing) {
  write_language("broken", "berth-no-such-package");
  auto r = run(cli(agent_, {"build", "broken"}), 1500s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("building the broken image failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("berth-no-such-package"), std::string::npos) << r.output;
  for (auto& d : {images_, images_ / "layers"}) {
    if (!fs::exists(d)) continue;
    for (auto& e : fs::directory_iterator(d)) {
      auto name = e.path().filename().string();
      EXPECT_EQ(name.find(".building"), std::string::npos) << name;
      EXPECT_EQ(name.find("broken-"), std::string::npos) << name;
    }
  }
  EXPECT_FALSE(list(agent_)[0]["built"].get<bool>());  // "broken" sorts first
}

}  // namespace
}  // namespace berth::test
