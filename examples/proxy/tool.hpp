// What the demo tools (cosync-echo, cosync-proxy, cosync-load) share:
// command-line options, the file-descriptor limit, process memory.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "cosync/cosync.hpp"

namespace demo {

// "--name value" options, with defaults and a usage text for --help.
class Options {
 public:
  Options(int argc, char** argv, const char* usage) : usage_(usage) {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        std::fputs(usage, stdout);
        std::exit(0);
      }
      if (arg.rfind("--", 0) != 0 || i + 1 >= argc) {
        fail("unexpected argument \"" + arg + "\"");
      }
      values_[arg.substr(2)] = argv[++i];
    }
  }

  bool has(const std::string& name) const { return values_.count(name) != 0; }

  std::string text(const std::string& name, const std::string& fallback) const {
    const auto found = values_.find(name);
    return found == values_.end() ? fallback : found->second;
  }

  long number(const std::string& name, long fallback, long min, long max) const {
    const auto found = values_.find(name);
    if (found == values_.end()) return fallback;
    char* end = nullptr;
    const long value = std::strtol(found->second.c_str(), &end, 10);
    if (end == found->second.c_str() || *end != '\0' || value < min || value > max) {
      fail("--" + name + " must be a number from " + std::to_string(min) + " to " +
           std::to_string(max) + ", not \"" + found->second + "\"");
    }
    return value;
  }

  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "error: %s\n\n%s", message.c_str(), usage_);
    std::exit(2);
  }

 private:
  const char* usage_;
  std::map<std::string, std::string> values_;
};

// Makes room for `needed` open files: raises the soft limit, and the hard
// one too when the process may (root with CAP_SYS_RESOURCE), and says what
// it did. When it cannot: exits with a clear message if the user asked for
// that many (`required`), else warns and goes on with what there is.
inline void ensure_fd_limit(const char* tool, rlim_t needed, bool required) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= needed) return;
  const rlimit old = limit;
  limit.rlim_cur = needed;
  limit.rlim_max = std::max(limit.rlim_max, needed);
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    std::fprintf(stderr, "%s: raised the open-file limit from %lu to %lu\n", tool,
                 static_cast<unsigned long>(old.rlim_cur), static_cast<unsigned long>(needed));
    return;
  }
  const int refused = errno;
  limit = old;
  limit.rlim_cur = old.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  std::fprintf(stderr,
               "%s: %s %lu open files, but the limit is %lu and raising it was refused (%s); "
               "raise it (ulimit -Hn as root, LimitNOFILE= for a service) or use fewer "
               "connections\n",
               tool, required ? "needs" : "would like", static_cast<unsigned long>(needed),
               static_cast<unsigned long>(old.rlim_max), std::strerror(refused));
  if (required) std::exit(1);
}

// A server reuses the stack of a finished connection for the next one:
// keeping as many as it may have connections makes churn cost no
// mmap/munmap and leaves no holes between stacks (each hole would be one
// more mapping). Pooled stacks keep only their top pages committed.
inline void pool_stacks_for(std::size_t coroutines) {
  cosync::StackConfig config;
  config.pool_limit = coroutines;
  cosync::configure_stacks(config);
}

// Resident set size of a process (0: this one), in bytes; 0 if unknown.
inline std::size_t rss_bytes(long pid = 0) {
  std::ifstream statm(pid == 0 ? std::string("/proc/self/statm")
                               : "/proc/" + std::to_string(pid) + "/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Waits (running the loop) for SIGINT or SIGTERM, delivered through the loop.
inline void wait_for_stop_signal() {
  auto interrupt = cosync::spawn([] { cosync::wait_signal(SIGINT); });
  auto terminate = cosync::spawn([] { cosync::wait_signal(SIGTERM); });
  cosync::wait_any(interrupt, terminate);
  interrupt.cancel();
  terminate.cancel();
  cosync::wait_all(interrupt, terminate);
}

// Stops a server: its accept loop first, then every open connection
// (their waits throw Cancelled, so each one unwinds and closes its
// sockets), and waits until all of them are gone.
inline void shut_down(cosync::Request<void>& accept_loop, cosync::TaskGroup& connections) {
  accept_loop.cancel();
  try {
    accept_loop.get();
  } catch (const cosync::Cancelled&) {
    // the normal end
  } catch (const std::exception& error) {
    std::fprintf(stderr, "the accept loop had stopped: %s\n", error.what());
  }
  connections.cancel();
  try {
    connections.join();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "a connection failed: %s\n", error.what());
  }
}

}  // namespace demo
