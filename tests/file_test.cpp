// Regular files through the blocking pool, from main and from coroutines,
// on every loop backend (the io_uring loop runs them on its ring instead).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"

namespace cosync {
namespace {

using test::Backend;

class FileTest : public test::BackendTest {
 protected:
  void SetUp() override {
    test::BackendTest::SetUp();
    if (IsSkipped()) return;
    char pattern[] = "/tmp/cosync-file-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
    test::BackendTest::TearDown();
  }
  std::string path(const char* name) const { return dir_ + "/" + name; }

  std::string dir_;
};

TEST_P(FileTest, WriteAndReadBackFromMain) {
  const std::string text(200000, 'q');
  write_file(path("a"), text);
  EXPECT_EQ(read_file(path("a")), text);
}

TEST_P(FileTest, WriteAndReadBackFromCoroutines) {
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

TEST_P(FileTest, ReadAtAndWriteAtUseOffsets) {
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

TEST_P(FileTest, OpeningAMissingFileNamesThePath) {
  try {
    File::open(path("missing"), O_RDONLY);
    FAIL() << "opened a missing file";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::no_such_file_or_directory);
    EXPECT_NE(std::string(error.what()).find("missing"), std::string::npos) << error.what();
  }
}

TEST_P(FileTest, AClosedFileRefusesWithEbadf) {
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

TEST_P(FileTest, AWriteErrorNamesThePath) {
  File file = File::open(path("d"), O_RDONLY | O_CREAT);
  try {
    file.write_at("x", 1, 0);
    FAIL() << "wrote to a read-only fd";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EBADF);
    EXPECT_NE(std::string(error.what()).find(path("d")), std::string::npos) << error.what();
  }
}

// Every pool worker is busy until the file work is done: on the io_uring
// loop that work never needs one (a hop to the pool would wait for ever,
// and the deadline would end the read).
TEST_P(FileTest, TheIoUringLoopReadsAndWritesWithoutThePool) {
  if (GetParam() != Backend::io_uring) GTEST_SKIP() << "only the io_uring loop has its own files";
  std::atomic<bool> release{false};
  std::vector<Request<void>> busy;
  for (std::size_t i = 0; i < blocking_pool_size(); ++i) {
    busy.push_back(blocking_pool().submit([&release] {
      while (!release.load()) usleep(1000);
    }));
  }
  const Deadline guard = deadline_after(std::chrono::seconds(10));
  auto work = spawn([this, guard] {
    write_file(path("r"), "ring", guard);
    File file = File::open(path("r"), O_RDWR, 0, guard);
    file.write_at("R", 1, 0, guard);
    file.sync(guard);
    char buffer[8] = {};
    const std::size_t got = file.read_at(buffer, sizeof buffer, 0, guard);
    return std::string(buffer, got) + "/" + read_file(path("r"), guard);
  });
  std::string got;
  EXPECT_NO_THROW(got = work.get());
  release = true;
  for (auto& job : busy) job.get();
  EXPECT_EQ(got, "Ring/Ring");
}

COSYNC_INSTANTIATE_BACKENDS(FileTest);

}  // namespace
}  // namespace cosync
