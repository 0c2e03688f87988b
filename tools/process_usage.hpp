// What a process holds, read from /proc: resident memory, mappings and open
// fds. One reader for the tests and the benchmarks; `pid` 0 is this process.
#pragma once

#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <fstream>
#include <map>
#include <string>

namespace cosync::usage {

inline std::string proc_path(pid_t pid, const char* entry) {
  return (pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid)) + "/" + entry;
}

// Resident set size, in bytes (the second field of statm); 0 if unknown.
inline std::size_t resident_bytes(pid_t pid = 0) {
  std::ifstream statm(proc_path(pid, "statm"));
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Number of mappings (VMAs), the budget vm.max_map_count limits: lines of maps.
inline std::size_t mapping_count(pid_t pid = 0) {
  std::ifstream maps(proc_path(pid, "maps"));
  std::size_t lines = 0;
  for (std::string line; std::getline(maps, line);) {
    ++lines;
  }
  return lines;
}

// The kernel's vm.max_map_count (65530, its default, if unreadable).
inline std::size_t max_map_count() {
  std::ifstream file("/proc/sys/vm/max_map_count");
  std::size_t value = 65530;
  file >> value;
  return value;
}

// What the symbolic link at `path` points to ("?" if unreadable).
inline std::string link_target(const std::string& path) {
  char target[256];
  const ssize_t length = readlink(path.c_str(), target, sizeof target);
  return length < 0 ? std::string("?") : std::string(target, static_cast<std::size_t>(length));
}

// The open fds, each with what it refers to ("pipe:[1234]", a path, ...).
inline std::map<int, std::string> open_fds(pid_t pid = 0) {
  std::map<int, std::string> fds;
  const std::string directory_path = proc_path(pid, "fd");
  DIR* directory = opendir(directory_path.c_str());
  if (directory == nullptr) {
    return fds;
  }
  // The directory's own fd is open only while this reads it.
  const int own = pid == 0 ? dirfd(directory) : -1;
  while (const dirent* entry = readdir(directory)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    const int fd = std::stoi(entry->d_name);
    if (fd != own) {
      fds.emplace(fd, link_target(directory_path + "/" + entry->d_name));
    }
  }
  closedir(directory);
  return fds;
}

// Number of open fds.
inline std::size_t open_fd_count(pid_t pid = 0) { return open_fds(pid).size(); }

}  // namespace cosync::usage
