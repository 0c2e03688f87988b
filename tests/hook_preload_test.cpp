// libcosync-hook's self-check and LD_PRELOAD use. This program links cosync
// but not the hook library: run as is, it stands for a program whose link
// dropped the hook object (or a static binary) and must be told so; run
// with LD_PRELOAD=libcosync-hook.so (the Preloaded cases), its unmodified
// blocking calls must become cooperative.
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "cosync/cosync.hpp"
#include "cosync/hook.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

TEST(NotLoaded, TheSelfCheckSaysSo) {
  EXPECT_FALSE(hook::active());
  EXPECT_NE(std::string(hook::status()).find("NOT loaded"), std::string::npos) << hook::status();
  EXPECT_EQ(cosync_hook_active(), 0);
}

TEST(Preloaded, TheSelfCheckSaysActive) { EXPECT_TRUE(hook::active()) << hook::status(); }

TEST(Preloaded, BlockingReadsOfManyCoroutinesOverlap) {
  constexpr int kCount = 20;
  std::vector<std::array<int, 2>> pairs(kCount);
  std::vector<Request<ssize_t>> readers;
  for (std::array<int, 2>& pair : pairs) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair.data()), 0);
    readers.push_back(spawn([fd = pair[0]] {
      char byte = 0;
      return read(fd, &byte, 1);
    }));
  }
  ASSERT_TRUE(this_loop().run_until([] { return hook::stats().waiting == kCount; },
                                    deadline_after(std::chrono::seconds(10))));
  for (const std::array<int, 2>& pair : pairs) ASSERT_EQ(write(pair[1], "x", 1), 1);
  for (Request<ssize_t>& reader : readers) EXPECT_EQ(reader.get(), 1);
  for (const std::array<int, 2>& pair : pairs) {
    close(pair[0]);
    close(pair[1]);
  }
}

}  // namespace
}  // namespace cosync
