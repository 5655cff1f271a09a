// data/remove_tree.h: a folder tree goes entirely, symbolic links are removed without touching their targets, a
// missing path is fine, and a failure names the path.
#include "data/remove_tree.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace distill::data {
namespace {

namespace fs = std::filesystem;

fs::path TestRoot() {
  static const fs::path root = fs::temp_directory_path() / ("distill-remove-tree-" + std::to_string(getpid()));
  return root;
}

// Property: nested folders and files (some read-only, as checkpoints may be) are all removed, and a symbolic link
// to a folder outside the tree is removed while the folder it points at, and its file, survive.
TEST(RemoveTree, RemovesNestedTreeButNotLinkTargets) {
  const fs::path tree = TestRoot() / "tree", outside = TestRoot() / "outside";
  fs::create_directories(tree / "a" / "b" / "c");
  fs::create_directories(outside);
  std::ofstream(outside / "keep.txt") << "keep";
  for (const fs::path& f : {tree / "top.txt", tree / "a" / "one.bin", tree / "a" / "b" / "c" / "deep.txt"})
    std::ofstream(f) << "x";
  chmod((tree / "a" / "one.bin").c_str(), 0444);
  fs::create_directory_symlink(outside, tree / "a" / "link");
  for (int i = 0; i < 300; ++i) std::ofstream(tree / "a" / "b" / ("many-" + std::to_string(i))) << i;

  ASSERT_TRUE(RemoveTree(tree.string()).ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(tree)));
  EXPECT_TRUE(fs::exists(outside / "keep.txt"));
  fs::remove(outside / "keep.txt");
  fs::remove(outside);
}

// Property: a single file goes; a path that does not exist is not an error.
TEST(RemoveTree, FileAndMissingPath) {
  fs::create_directories(TestRoot());
  const fs::path file = TestRoot() / "file.txt";
  std::ofstream(file) << "x";
  EXPECT_TRUE(RemoveTree(file.string()).ok());
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(RemoveTree((TestRoot() / "never-made" / "x").string()).ok());
  EXPECT_FALSE(RemoveTree("").ok());
}

// Property: a path that cannot be looked at (here one that runs through a file) fails, naming the path and why.
TEST(RemoveTree, FailureNamesThePath) {
  fs::create_directories(TestRoot());
  const fs::path file = TestRoot() / "plain.txt";
  std::ofstream(file) << "x";
  const std::string through_file = (file / "child").string();
  const absl::Status s = RemoveTree(through_file);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(through_file), std::string::npos) << s;
  EXPECT_NE(s.message().find("Not a directory"), std::string::npos) << s;
  EXPECT_TRUE(fs::exists(file));
  EXPECT_TRUE(RemoveTree(TestRoot().string()).ok());
}

}  // namespace
}  // namespace distill::data
