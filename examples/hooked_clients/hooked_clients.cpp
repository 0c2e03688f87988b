// Three unmodified blocking clients (clients.cpp: hiredis, libpq, libcurl)
// run concurrently from coroutines on one thread:
//   --redis-clients N   coroutines each `BLPOP key 1` on an empty list
//   --pg-clients N      coroutines each `SELECT pg_sleep(1)` through PQexec
//   --http-clients N    coroutines each GET a URL answered after 500 ms
// cosync-hooked-clients links libcosync-hook: each blocking call suspends
// only its coroutine, and the whole run takes about one second.
// cosync-unhooked-clients is the same program without it: every call
// blocks the thread, so the run takes the sum of all the waits.
// Usage: <program> --redis 127.0.0.1:PORT --postgres PORT --http http://HOST:PORT
//                  [--redis-clients 1000] [--pg-clients 100] [--http-clients 200]
// (run.sh starts the servers and runs both programs.)
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>

#include "clients.hpp"
#include "cosync/request.hpp"
#include "cosync/sync.hpp"
#if COSYNC_EXAMPLE_HOOKED
#include "cosync/hook.hpp"
#endif

namespace {

struct Settings {
  std::string redis_host = "127.0.0.1";
  int redis_port = 0;
  int postgres_port = 0;
  std::string http;
  std::size_t redis_clients = 1000;
  std::size_t pg_clients = 100;
  std::size_t http_clients = 200;
};

[[noreturn]] void usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s --redis HOST:PORT --postgres PORT --http http://HOST:PORT\n"
               "          [--redis-clients N] [--pg-clients N] [--http-clients N]\n",
               program);
  std::exit(2);
}

Settings parse(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--redis") {
      const std::size_t colon = value.rfind(':');
      if (colon == std::string::npos) usage(argv[0]);
      settings.redis_host = value.substr(0, colon);
      settings.redis_port = std::stoi(value.substr(colon + 1));
    } else if (flag == "--postgres") {
      settings.postgres_port = std::stoi(value);
    } else if (flag == "--http") {
      settings.http = value;
    } else if (flag == "--redis-clients") {
      settings.redis_clients = std::stoul(value);
    } else if (flag == "--pg-clients") {
      settings.pg_clients = std::stoul(value);
    } else if (flag == "--http-clients") {
      settings.http_clients = std::stoul(value);
    } else {
      usage(argv[0]);
    }
  }
  if (argc % 2 == 0 || settings.redis_port == 0 || settings.postgres_port == 0 ||
      settings.http.empty()) {
    usage(argv[0]);
  }
  return settings;
}

// The plain synchronous functions each coroutine runs.
void wait_on_redis(const Settings& settings) {
  hooked_clients::RedisClient client(settings.redis_host, settings.redis_port);
  if (client.blpop("hooked-clients-example", 1).has_value()) {
    throw std::runtime_error("BLPOP popped from a list that should stay empty");
  }
}

void sleep_in_postgres(const Settings& settings) {
  hooked_clients::PgClient(hooked_clients::pg_conninfo(settings.postgres_port))
      .scalar("SELECT pg_sleep(1)");
}

void fetch_slow_page(const Settings& settings, std::size_t id) {
  const std::string id_text = std::to_string(id);
  const hooked_clients::HttpReply reply =
      hooked_clients::http_get(settings.http + "/delay?ms=500&id=" + id_text);
  if (reply.status != 200 || reply.body != id_text) {
    throw std::runtime_error("unexpected HTTP reply " + std::to_string(reply.status));
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs `count` coroutines of `client` and prints how long they took together.
void run_clients(const char* what, std::size_t count,
                 const std::function<void(std::size_t)>& client) {
  const auto start = std::chrono::steady_clock::now();
  cosync::TaskGroup group;
  for (std::size_t i = 0; i < count; ++i) group.spawn(client, i);
  group.join();
  std::printf("%-34s %5zu done in %6.2f s\n", what, count, seconds_since(start));
}

}  // namespace

int main(int argc, char** argv) {
  const Settings settings = parse(argc, argv);
#if COSYNC_EXAMPLE_HOOKED
  std::printf("libcosync-hook active: %s\n", cosync::hook::active() ? "yes" : "NO");
#else
  std::printf("without libcosync-hook: each blocking call blocks the thread\n");
#endif
  const auto start = std::chrono::steady_clock::now();
  try {
    cosync::TaskGroup kinds;
    kinds.spawn([&] {
      run_clients("redis: BLPOP key 1", settings.redis_clients,
                  [&](std::size_t) { wait_on_redis(settings); });
    });
    kinds.spawn([&] {
      run_clients("postgres: SELECT pg_sleep(1)", settings.pg_clients,
                  [&](std::size_t) { sleep_in_postgres(settings); });
    });
    kinds.spawn([&] {
      run_clients("http: GET answered after 500 ms", settings.http_clients,
                  [&](std::size_t id) { fetch_slow_page(settings, id); });
    });
    kinds.join();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "failed: %s\n", error.what());
    return 1;
  }
  std::printf("all clients done in %.2f s\n", seconds_since(start));
  return 0;
}
