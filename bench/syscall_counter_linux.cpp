#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>

#include "syscall_counter.hpp"

namespace cosync_bench {
namespace {

// Where tracefs shows the tracepoint, mounted on its own or under debugfs.
constexpr std::array<const char*, 2> kTracepointIdFiles = {
    "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
    "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
};

// The tracepoint's id, or -1 when no tracefs shows it.
long long sys_enter_tracepoint_id() {
  for (const char* path : kTracepointIdFiles) {
    std::ifstream file(path);
    long long id = -1;
    if (file >> id) return id;
  }
  return -1;
}

void explain_once(const std::string& why) {
  static std::once_flag once;
  std::call_once(once, [&why] {
    std::fprintf(stderr, "cosync-bench: no syscalls/* counters: %s\n", why.c_str());
  });
}

int open_counter(pid_t tid) {
  const long long id = sys_enter_tracepoint_id();
  if (id < 0) {
    explain_once(
        "raw_syscalls:sys_enter is not in /sys/kernel/tracing (mount it: "
        "mount -t tracefs nodev /sys/kernel/tracing)");
    return -1;
  }
  perf_event_attr attr{};
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof attr;
  attr.config = static_cast<unsigned long long>(id);
  const long fd = syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    explain_once(std::string("perf_event_open on raw_syscalls:sys_enter: ") + std::strerror(errno) +
                 " (needs root or a low kernel.perf_event_paranoid)");
    return -1;
  }
  return static_cast<int>(fd);
}

}  // namespace

SyscallCounter::SyscallCounter(pid_t tid) : fd_(open_counter(tid)) {}

SyscallCounter::~SyscallCounter() {
  if (fd_ >= 0) close(fd_);
}

std::uint64_t SyscallCounter::count() const {
  std::uint64_t value = 0;
  if (fd_ >= 0 && read(fd_, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) {
    value = 0;
  }
  return value;
}

void report_syscalls(benchmark::State& state, const SyscallCounter& counter, std::uint64_t start,
                     double units, const std::string& name) {
  if (!counter.available() || units <= 0) return;
  state.counters[name] = static_cast<double>(counter.count() - start) / units;
}

}  // namespace cosync_bench
