// Random 4 KiB reads of one file by 100 coroutines, each calling
// cosync::File::read_at in a loop:
//
//   BM_FileRead/cosync          from the page cache, on the epoll loop: every
//                               read is a job for the blocking pool
//   BM_FileRead/cosync_io_uring the same on the io_uring loop: every read is
//                               a read operation on the ring
//   BM_FileRead/pread           the anchor: the same reads as blocking
//                               pread(2) calls on the benchmark's thread, one
//                               at a time (no coroutines, no pool)
//   BM_FileReadDisk/<row>       the same from the disk: the file's pages are
//                               dropped from the page cache before every
//                               iteration (posix_fadvise DONTNEED on the
//                               file alone, not drop_caches, which would
//                               empty the whole machine's cache) with
//                               readahead off (POSIX_FADV_RANDOM)
//
// O_DIRECT is not used: the pool path reads into a buffer of its own that
// is not aligned as O_DIRECT requires. One iteration is 10,000 reads at
// offsets from a fixed pseudo-random sequence, the same for every row;
// "items/s" is per second of wall-clock time (the pool's work is on other
// threads). The 64 MiB file is written once per process under the
// temporary directory ($TMPDIR, else /tmp); the disk rows skip themselves
// when that is a tmpfs, which has no disk behind it.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cosync/io.hpp>
#include <cosync/sync.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fail.hpp"
#include "io_uring_loop.hpp"

namespace {

using cosync_bench::fail;

constexpr std::size_t kReadSize = 4096;
constexpr std::size_t kFileBytes = std::size_t{64} << 20;
constexpr std::size_t kReaders = 100;
constexpr std::size_t kReadsPerIteration = 10'000;

// The file every row reads, written once and removed at exit.
class TestFile {
 public:
  TestFile()
      : path_((std::filesystem::temp_directory_path() /
               ("cosync-bench-file-" + std::to_string(getpid())))
                  .string()) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("open the benchmark's file");
    std::vector<char> chunk(std::size_t{1} << 20);
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 131);
    for (std::size_t written = 0; written < kFileBytes; written += chunk.size()) {
      if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
        fail("write the benchmark's file");
      }
    }
    if (fsync(fd) != 0) fail("fsync the benchmark's file");  // clean pages can be dropped
    ::close(fd);
  }
  TestFile(const TestFile&) = delete;
  TestFile& operator=(const TestFile&) = delete;
  ~TestFile() { ::unlink(path_.c_str()); }

  const std::string& path() const noexcept { return path_; }

  // Whether the file lives on a file system with a disk behind it.
  bool on_disk() const {
    struct statfs info {};
    return statfs(path_.c_str(), &info) == 0 && info.f_type != TMPFS_MAGIC;
  }

 private:
  std::string path_;
};

const TestFile& test_file() {
  static const TestFile file;
  return file;
}

// Page-aligned offsets, from a fixed seed: every row reads the same pages.
const std::vector<off_t>& read_offsets() {
  static const std::vector<off_t> offsets = [] {
    std::mt19937 random(20261203);
    std::uniform_int_distribution<std::size_t> page(0, kFileBytes / kReadSize - 1);
    std::vector<off_t> result(kReadsPerIteration);
    for (off_t& offset : result) offset = static_cast<off_t>(page(random) * kReadSize);
    return result;
  }();
  return offsets;
}

// Reads the whole file once, so its pages are in the page cache.
void warm_page_cache(int fd) {
  std::vector<char> chunk(std::size_t{1} << 20);
  for (off_t offset = 0; static_cast<std::size_t>(offset) < kFileBytes;
       offset += static_cast<off_t>(chunk.size())) {
    if (pread(fd, chunk.data(), chunk.size(), offset) < 0) fail("pread to warm the cache");
  }
}

// The share of the file's pages in the page cache (mincore).
double resident_share(int fd) {
  void* mapped = mmap(nullptr, kFileBytes, PROT_READ, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED) fail("mmap the benchmark's file");
  std::vector<unsigned char> pages(kFileBytes / static_cast<std::size_t>(sysconf(_SC_PAGESIZE)));
  if (mincore(mapped, kFileBytes, pages.data()) != 0) fail("mincore");
  munmap(mapped, kFileBytes);
  std::size_t resident = 0;
  for (const unsigned char page : pages) resident += page & 1U;
  return static_cast<double>(resident) / static_cast<double>(pages.size());
}

enum class Source { page_cache, disk };

// Drops the file's pages (clean ones) from the page cache and checks with
// mincore that they went; false (the benchmark skipped, saying so) when
// more than 1% stayed.
bool evict_page_cache(benchmark::State& state, int fd) {
  if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) fail("posix_fadvise DONTNEED");
  if (resident_share(fd) <= 0.01) return true;
  state.SkipWithError("posix_fadvise DONTNEED left the file in the page cache");
  return false;
}

// Puts the file's pages where `source` says; false (the benchmark skipped,
// saying why) when they could not be put there.
bool prepare(benchmark::State& state, int fd, Source source) {
  if (source == Source::page_cache) {
    warm_page_cache(fd);
    return true;
  }
  if (!test_file().on_disk()) {
    state.SkipWithError("the temporary directory is a tmpfs: no disk to read from");
    return false;
  }
  if (posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) != 0) fail("posix_fadvise RANDOM");
  return evict_page_cache(state, fd);
}

// A reader's loop: reads at the next offset not yet taken until none is
// left.
void read_until_done(cosync::File& file, const std::vector<off_t>& offsets, std::size_t& next) {
  std::array<char, kReadSize> buffer{};
  while (next < offsets.size()) {
    const off_t offset = offsets[next++];
    if (file.read_at(buffer.data(), buffer.size(), offset) != buffer.size()) {
      fail("read_at: short read");
    }
  }
}

// One iteration's reads by kReaders coroutines, which take the offsets in
// turn; runs the thread's loop until all are done.
void read_concurrently(cosync::File& file) {
  std::size_t next = 0;
  cosync::TaskGroup readers;
  for (std::size_t i = 0; i < kReaders; ++i) {
    readers.spawn(read_until_done, std::ref(file), std::cref(read_offsets()), std::ref(next));
  }
  readers.join();
}

void read_one_at_a_time(int fd) {
  std::array<char, kReadSize> buffer{};
  for (const off_t offset : read_offsets()) {
    if (pread(fd, buffer.data(), buffer.size(), offset) != static_cast<ssize_t>(buffer.size())) {
      fail("pread");
    }
  }
}

// Runs `read_all(file)` once per iteration; when reading from the disk,
// the file's pages are evicted (untimed) before each.
template <class ReadAll>
void run_reads(benchmark::State& state, Source source, ReadAll read_all) {
  cosync::File file = cosync::File::open(test_file().path(), O_RDONLY);
  if (!prepare(state, file.fd(), source)) return;
  for (auto _ : state) {
    read_all(file);
    if (source == Source::disk) {
      state.PauseTiming();
      const bool evicted = evict_page_cache(state, file.fd());
      state.ResumeTiming();
      if (!evicted) break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kReadsPerIteration));
}

void BM_FileRead_cosync(benchmark::State& state, Source source) {
  run_reads(state, source, read_concurrently);
}

void BM_FileRead_cosync_io_uring(benchmark::State& state, Source source) {
  const cosync_bench::IoUringLoopScope io_uring;
  if (cosync_bench::io_uring_loop_runs(io_uring, state)) {
    run_reads(state, source, read_concurrently);
  }
}

void BM_FileRead_pread(benchmark::State& state, Source source) {
  run_reads(state, source, [](cosync::File& file) { read_one_at_a_time(file.fd()); });
}

}  // namespace

BENCHMARK_CAPTURE(BM_FileRead_cosync, page_cache, Source::page_cache)
    ->Name("BM_FileRead/cosync")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FileRead_cosync_io_uring, page_cache, Source::page_cache)
    ->Name("BM_FileRead/cosync_io_uring")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FileRead_pread, page_cache, Source::page_cache)
    ->Name("BM_FileRead/pread")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FileRead_cosync, disk, Source::disk)
    ->Name("BM_FileReadDisk/cosync")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FileRead_cosync_io_uring, disk, Source::disk)
    ->Name("BM_FileReadDisk/cosync_io_uring")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FileRead_pread, disk, Source::disk)
    ->Name("BM_FileReadDisk/pread")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
