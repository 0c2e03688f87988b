// Unmodified hiredis, libpq and libcurl clients (examples/hooked_clients/
// clients.cpp: plain blocking calls) run from coroutines against real
// servers. Built twice: hook_clients_test links libcosync-hook, and every
// coroutine's blocking call then suspends only that coroutine;
// hook_clients_unhooked_test does not, and the same calls block the thread.
// Concurrency is asserted from the servers' side (how many clients they saw
// waiting at once), never from wall time.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "clients.hpp"
#include "cosync/request.hpp"
#include "cosync/sync.hpp"
#include "test_servers.hpp"
#include "test_util.hpp"
#if COSYNC_TEST_HOOKED
#include "cosync/hook.hpp"
#endif

namespace cosync::test {
namespace {

using hooked_clients::HttpReply;
using hooked_clients::PgClient;
using hooked_clients::PgError;
using hooked_clients::RedisClient;
using hooked_clients::RedisError;

constexpr const char* kLoopback = "127.0.0.1";

RedisClient redis() { return RedisClient(kLoopback, server_ports().redis); }

PgClient postgres() { return PgClient(hooked_clients::pg_conninfo(server_ports().postgres)); }

std::string http_base(const std::string& host) {
  return "http://" + host + ":" + std::to_string(server_ports().http);
}

// A number field of the HTTP server's /stats reply ({"served": 3, ...}).
long long stats_field(const std::string& stats, const std::string& field) {
  const std::size_t at = stats.find("\"" + field + "\": ");
  if (at == std::string::npos) throw std::runtime_error("no " + field + " in " + stats);
  return std::stoll(stats.substr(at + field.size() + 4));
}

// Runs fn(0) ... fn(count - 1), each in a coroutine of its own, and waits
// for all of them.
void run_coroutines(std::size_t count, const std::function<void(std::size_t)>& fn) {
  TaskGroup group;
  for (std::size_t i = 0; i < count; ++i) group.spawn(fn, i);
  group.join();
}

// The largest value `sample` returned, sampled every few milliseconds on a
// thread of its own (whose calls the hooks pass straight through) from its
// construction to stop().
class MaxSampler {
 public:
  explicit MaxSampler(std::function<long long()> sample)
      : thread_([this, sample = std::move(sample)] {
          while (!stop_.load()) {
            most_.store(std::max(most_.load(), sample()));
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  MaxSampler(const MaxSampler&) = delete;
  MaxSampler& operator=(const MaxSampler&) = delete;
  ~MaxSampler() {
    if (thread_.joinable()) stop();
  }
  long long stop() {
    stop_.store(true);
    thread_.join();
    return most_.load();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<long long> most_{0};
  std::thread thread_;
};

constexpr const char* kActiveSleeps =
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT "
    "pg_sleep(%'";

long long active_sleeps(PgClient& watcher) { return std::stoll(watcher.scalar(kActiveSleeps)); }

#if COSYNC_TEST_HOOKED

TEST(HookedClients, HookIsActive) { EXPECT_TRUE(hook::active()); }

// The counts are divided by COSYNC_TEST_SCALE under sanitizers.

// 1,000 coroutines each block in BLPOP on their own connection; a watcher
// thread sees redis count all 1,000 as blocked at once, then feeds the
// list, and each coroutine gets its own value.
TEST(HookedRedis, ThousandBlpopsWaitTogether) {
  const std::size_t kClients = scaled(1000);
  const std::string key = "together";
  redis().del(key);
  long long most_blocked = 0;
  std::thread feeder([&] {
    RedisClient watcher = redis();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (most_blocked < static_cast<long long>(kClients) &&
           std::chrono::steady_clock::now() < give_up) {
      most_blocked = std::max(most_blocked, watcher.info_field("blocked_clients"));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (std::size_t i = 0; i < kClients; ++i) watcher.rpush(key, std::to_string(i));
  });
  std::vector<std::string> popped(kClients);
  run_coroutines(kClients,
                 [&](std::size_t i) { popped[i] = redis().blpop(key, 30).value_or("timed out"); });
  feeder.join();
  EXPECT_EQ(most_blocked, static_cast<long long>(kClients));
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < kClients; ++i) expected.push_back(std::to_string(i));
  std::sort(popped.begin(), popped.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(popped, expected);
}

// The case: 1,000 `BLPOP key 1` on an empty list all end with the
// server's timeout (nil), and redis saw them blocked together.
TEST(HookedRedis, ThousandBlpopsTimeOutTogether) {
  const std::size_t kClients = scaled(1000);
  redis().del("empty");
  MaxSampler blocked([watcher = std::make_shared<RedisClient>(redis())] {
    return watcher->info_field("blocked_clients");
  });
  std::vector<std::optional<std::string>> popped(kClients, std::string("not run"));
  const auto start = std::chrono::steady_clock::now();
  run_coroutines(kClients, [&](std::size_t i) { popped[i] = redis().blpop("empty", 1); });
  const auto wall = std::chrono::steady_clock::now() - start;
  RecordProperty(
      "wall_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wall).count()));
  EXPECT_GT(blocked.stop(), 1);
  EXPECT_EQ(std::count(popped.begin(), popped.end(), std::nullopt), static_cast<long>(kClients));
}

// redisSetTimeout's SO_RCVTIMEO ends a read with hiredis's own EAGAIN error
// while the other coroutines of the thread go on with their commands.
TEST(HookedRedis, SetTimeoutExpiresWithEagain) {
  bool timed_out = false;
  std::size_t commands_meanwhile = 0;
  std::optional<RedisError> error;
  TaskGroup group;
  group.spawn([&] {
    RedisClient client = redis();
    client.set_timeout(100);
    try {
      client.blpop("never-filled", 10);
    } catch (const RedisError& caught) {
      error = caught;
    }
    timed_out = true;
  });
  group.spawn([&] {
    RedisClient client = redis();
    while (!timed_out) {
      client.info_field("connected_clients");
      ++commands_meanwhile;
    }
  });
  group.join();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, REDIS_ERR_IO);
  EXPECT_EQ(error->saved_errno, EAGAIN);
  EXPECT_NE(std::string(error->what()).find("Resource temporarily unavailable"), std::string::npos)
      << error->what();
  EXPECT_GT(commands_meanwhile, 0U);
}

// 100 coroutines each run `SELECT pg_sleep(1)` through PQexec once all are
// connected; a watcher coroutine on its own connection waits until
// pg_stat_activity shows all 100 running, then cancels the first with
// PQcancel. It alone ends with "canceling statement due to user request".
TEST(HookedPostgres, HundredSleepsRunTogetherAndOneIsCancelled) {
  const std::size_t kSleepers = scaled(100);
  std::vector<std::string> outcome(kSleepers, "not run");
  std::size_t connected = 0;
  Event all_connected;
  PgClient* target = nullptr;
  long long most_active = 0;
  TaskGroup group;
  for (std::size_t i = 0; i < kSleepers; ++i) {
    group.spawn([&, i] {
      PgClient client = postgres();
      if (i == 0) target = &client;
      if (++connected == kSleepers) all_connected.set();
      all_connected.wait();
      try {
        outcome[i] = "ok " + client.scalar("SELECT pg_sleep(1)");
      } catch (const PgError& error) {
        outcome[i] = "error " + error.sqlstate;
      }
    });
  }
  group.spawn([&] {
    PgClient watcher = postgres();
    all_connected.wait();
    for (int polls = 0; most_active < static_cast<long long>(kSleepers) && polls < 2000; ++polls) {
      most_active = active_sleeps(watcher);
      usleep(5000);
    }
    if (outcome[0] == "not run") target->cancel_running_statement();  // still connected
  });
  group.join();
  EXPECT_EQ(most_active, static_cast<long long>(kSleepers));
  EXPECT_EQ(outcome[0], "error 57014");  // query_canceled
  EXPECT_EQ(std::count(outcome.begin(), outcome.end(), "ok "), static_cast<long>(kSleepers - 1));
}

// 200 coroutines each GET a URL the server answers 500 ms after all 200
// are in flight (gather=200): every reply is right and the server counted
// 200 requests in flight at once.
TEST(HookedCurl, TwoHundredRequestsInFlightTogether) {
  const std::size_t kRequests = scaled(200);
  const std::string base = http_base("localhost");
  hooked_clients::http_get(base + "/reset");
  std::vector<HttpReply> replies(kRequests);
  run_coroutines(kRequests, [&](std::size_t i) {
    replies[i] = hooked_clients::http_get(
        base + "/delay?ms=500&gather=" + std::to_string(kRequests) + "&id=" + std::to_string(i));
  });
  const std::string stats = hooked_clients::http_get(base + "/stats").body;
  EXPECT_EQ(stats_field(stats, "max_in_flight"), static_cast<long long>(kRequests)) << stats;
  EXPECT_EQ(stats_field(stats, "served"), static_cast<long long>(kRequests)) << stats;
  for (std::size_t i = 0; i < kRequests; ++i) {
    EXPECT_EQ(replies[i].status, 200);
    EXPECT_EQ(replies[i].body, std::to_string(i));
  }
}

// This host's name when it resolves to 127.0.0.1 (curl resolves
// "localhost" itself, without its resolver thread), else "".
std::string host_name_on_loopback() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "";
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (getaddrinfo(name.data(), nullptr, &hints, &found) != 0) return "";
  bool loopback = false;
  for (const addrinfo* at = found; at != nullptr; at = at->ai_next) {
    const auto* address = reinterpret_cast<const sockaddr_in*>(at->ai_addr);
    loopback = loopback || address->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
  }
  freeaddrinfo(found);
  return loopback ? std::string(name.data()) : "";
}

// A name that only getaddrinfo knows goes to libcurl's resolver thread,
// whose calls the hooks pass through, while the coroutines wait on the
// thread's wake-up socket.
TEST(HookedCurl, ResolverThreadResolvesWhileCoroutinesWait) {
  ASSERT_NE(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS, 0)
      << "libcurl without its threaded resolver";
  const std::string name = host_name_on_loopback();
  if (name.empty()) GTEST_SKIP() << "this host's name does not resolve to 127.0.0.1";
  constexpr std::size_t kRequests = 20;
  const std::string base = http_base(name);
  hooked_clients::http_get(http_base(kLoopback) + "/reset");
  std::vector<HttpReply> replies(kRequests);
  run_coroutines(kRequests, [&](std::size_t i) {
    replies[i] = hooked_clients::http_get(
        base + "/delay?ms=100&gather=" + std::to_string(kRequests) + "&id=" + std::to_string(i));
  });
  const std::string stats = hooked_clients::http_get(http_base(kLoopback) + "/stats").body;
  EXPECT_EQ(stats_field(stats, "max_in_flight"), static_cast<long long>(kRequests)) << stats;
  for (std::size_t i = 0; i < kRequests; ++i) EXPECT_EQ(replies[i].body, std::to_string(i));
}

#else  // without the hooks: the same calls from coroutines run one at a time

constexpr std::size_t kFew = 3;

TEST(UnhookedClients, RedisBlocksOneBlpopAtATime) {
  redis().del("empty");
  MaxSampler blocked([watcher = std::make_shared<RedisClient>(redis())] {
    return watcher->info_field("blocked_clients");
  });
  std::vector<std::optional<std::string>> popped(kFew, std::string("not run"));
  run_coroutines(kFew, [&](std::size_t i) { popped[i] = redis().blpop("empty", 0.2); });
  EXPECT_EQ(blocked.stop(), 1);
  EXPECT_EQ(std::count(popped.begin(), popped.end(), std::nullopt), static_cast<long>(kFew));
}

TEST(UnhookedClients, PostgresRunsOneSleepAtATime) {
  MaxSampler active(
      [watcher = std::make_shared<PgClient>(postgres())] { return active_sleeps(*watcher); });
  std::vector<std::string> outcome(kFew, "not run");
  run_coroutines(
      kFew, [&](std::size_t i) { outcome[i] = "ok " + postgres().scalar("SELECT pg_sleep(0.2)"); });
  EXPECT_EQ(active.stop(), 1);
  EXPECT_EQ(std::count(outcome.begin(), outcome.end(), "ok "), static_cast<long>(kFew));
}

TEST(UnhookedClients, CurlHasOneRequestInFlightAtATime) {
  const std::string base = http_base("localhost");
  hooked_clients::http_get(base + "/reset");
  std::vector<HttpReply> replies(kFew);
  run_coroutines(kFew, [&](std::size_t i) {
    replies[i] = hooked_clients::http_get(base + "/delay?ms=200&id=" + std::to_string(i));
  });
  const std::string stats = hooked_clients::http_get(base + "/stats").body;
  EXPECT_EQ(stats_field(stats, "max_in_flight"), 1) << stats;
  EXPECT_EQ(stats_field(stats, "served"), static_cast<long long>(kFew)) << stats;
  for (std::size_t i = 0; i < kFew; ++i) EXPECT_EQ(replies[i].body, std::to_string(i));
}

#endif

}  // namespace
}  // namespace cosync::test
