// Regular files through the blocking pool, from main and from coroutines.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "cosync/cosync.hpp"

namespace cosync {
namespace {

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cosync-file-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  std::string path(const char* name) const { return dir_ + "/" + name; }

  std::string dir_;
};

TEST_F(FileTest, WriteAndReadBackFromMain) {
  const std::string text(200000, 'q');
  write_file(path("a"), text);
  EXPECT_EQ(read_file(path("a")), text);
}

TEST_F(FileTest, WriteAndReadBackFromCoroutines) {
  std::vector<Request<bool>> checks;
  for (int i = 0; i < 20; ++i) {
    checks.push_back(spawn([this, i] {
      const std::string name = path("f") + std::to_string(i);
      const std::string text(static_cast<std::size_t>(1000 + i), static_cast<char>('a' + i));
      write_file(name, text);
      return read_file(name) == text;
    }));
  }
  for (auto& check : checks) EXPECT_TRUE(check.get());
}

TEST_F(FileTest, ReadAtAndWriteAtUseOffsets) {
  File file = File::open(path("b"), O_RDWR | O_CREAT | O_TRUNC);
  file.write_at("hello world", 11, 0);
  file.write_at("W", 1, 6);
  char buffer[16] = {};
  EXPECT_EQ(file.read_at(buffer, sizeof buffer, 0), 11U);
  EXPECT_EQ(std::string(buffer, 11), "hello World");
  EXPECT_EQ(file.read_at(buffer, sizeof buffer, 11), 0U) << "end of file";
  EXPECT_EQ(file.size(), 11);
  file.sync();
}

TEST_F(FileTest, OpeningAMissingFileNamesThePath) {
  try {
    File::open(path("missing"), O_RDONLY);
    FAIL() << "opened a missing file";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::no_such_file_or_directory);
    EXPECT_NE(std::string(error.what()).find("missing"), std::string::npos) << error.what();
  }
}

TEST_F(FileTest, AClosedFileRefusesWithEbadf) {
  File file = File::open(path("c"), O_RDWR | O_CREAT);
  file.close();
  char byte = 0;
  try {
    file.read_at(&byte, 1, 0);
    FAIL() << "read a closed file";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EBADF);
    EXPECT_NE(std::string(error.what()).find("closed file"), std::string::npos);
  }
}

TEST_F(FileTest, AWriteErrorNamesThePath) {
  File file = File::open(path("d"), O_RDONLY | O_CREAT);
  try {
    file.write_at("x", 1, 0);
    FAIL() << "wrote to a read-only fd";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EBADF);
    EXPECT_NE(std::string(error.what()).find(path("d")), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace cosync
