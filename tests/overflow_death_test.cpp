// Stack overflow detection, in child processes: a guard hit is reported with
// one line naming the coroutine and the process dies of SIGSEGV (after the
// application's own handler, if it had one); a broken canary aborts.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cosync/coroutine.hpp"
#include "cosync/stack.hpp"
#include "overflow_jump.hpp"

namespace cosync {
namespace {

int one_huge_frame() {
  volatile char frame[64 * 1024];  // larger than a page: probed page by page
  frame[0] = 1;
  frame[sizeof frame - 1] = 2;
  return frame[0] + frame[sizeof frame - 1];
}

void overflow_in_named_coroutine(int (*overflow)(), std::size_t stack_size) {
  auto task = create(Options{.stack_size = stack_size, .name = "deep-diver"}, overflow);
  task.join();
}

int overflow_by_recursion() { return test::recurse_forever(0); }

// The expected report: "cosync: stack overflow in coroutine #<id>
// "deep-diver": stack [lo, hi), guard [g, lo), fault address 0x...".
constexpr const char* kReport =
    "cosync: stack overflow in coroutine #[0-9]+ \"deep-diver\": stack \\[0x[0-9a-f]+, "
    "0x[0-9a-f]+\\), guard \\[0x[0-9a-f]+, 0x[0-9a-f]+\\), fault address 0x[0-9a-f]+";

TEST(OverflowDeathTest, InfiniteRecursionIsReportedAndKillsWithSigsegv) {
  EXPECT_EXIT(overflow_in_named_coroutine(&overflow_by_recursion, min_stack_size),
              ::testing::KilledBySignal(SIGSEGV), kReport);
}

TEST(OverflowDeathTest, FrameLargerThanAPageIsReported) {
  EXPECT_EXIT(overflow_in_named_coroutine(&one_huge_frame, min_stack_size),
              ::testing::KilledBySignal(SIGSEGV), kReport);
}

// Four times the 64 KiB guard: without stack-clash probes its one write
// would land far below the guard.
int frame_four_guards_deep() {
  volatile char frame[256 * 1024];
  frame[0] = 1;
  return frame[0];
}

// This file is built with -fstack-clash-protection, as cosync's users are:
// the compiler probes a large frame from the top (every 4 KiB; every 64 KiB
// on aarch64, whose GCC assumes a 64 KiB guard), so the first probe past
// the stack hits the guard and the report names the coroutine with the
// fault in its guard, nothing more.
TEST(OverflowDeathTest, AFrameLargerThanTheGuardIsProbedIntoIt) {
#if defined(__riscv) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 14
  GTEST_SKIP() << "GCC " << __GNUC__ << " does not implement -fstack-clash-protection for riscv64 "
               << "(GCC 14 does): there a frame larger than the guard jumps it";
#endif
  EXPECT_EXIT(
      {
        StackConfig config = stack_config();
        config.guard_bytes = 64 * 1024;
        configure_stacks(config);
        overflow_in_named_coroutine(&frame_four_guards_deep, min_stack_size);
      },
      ::testing::KilledBySignal(SIGSEGV), std::string(kReport) + "\n");
}

TEST(OverflowDeathTest, GuardPagePolicyIsReportedToo) {
  EXPECT_EXIT(
      {
        StackConfig config = stack_config();
        config.guard_policy = GuardPolicy::guard_page;
        configure_stacks(config);
        overflow_in_named_coroutine(&overflow_by_recursion, min_stack_size);
      },
      ::testing::KilledBySignal(SIGSEGV), kReport);
}

void application_handler(int) {
  constexpr char kMessage[] = "application handler ran\n";
  (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  _exit(3);
}

TEST(OverflowDeathTest, ApplicationHandlerInstalledBeforeRunsAfterTheReport) {
  EXPECT_EXIT(
      {
        struct sigaction action {};
        action.sa_handler = &application_handler;
        sigemptyset(&action.sa_mask);
        sigaction(SIGSEGV, &action, nullptr);
        overflow_in_named_coroutine(&overflow_by_recursion, min_stack_size);
      },
      ::testing::ExitedWithCode(3), std::string(kReport) + "\napplication handler ran");
}

TEST(OverflowDeathTest, FaultsOutsideAnyGuardAreNotBlamedOnACoroutine) {
  EXPECT_EXIT(
      {
        auto task = create(Options{.name = "null-reader"}, [] {
          // An inaccessible page that is not a coroutine's guard.
          void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          return *static_cast<volatile int*>(page);
        });
        task.join();
      },
      // No overflow report: every report names "coroutine #<id>".
      ::testing::KilledBySignal(SIGSEGV), "^[^#]*$");
}

// How far below this frame `target` lies. The frame address, not a local's:
// ASan may keep locals on a fake stack elsewhere.
__attribute__((noinline)) std::size_t distance_down_to(const void* target) {
  return static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) -
                                  reinterpret_cast<std::uintptr_t>(target));
}

// With the default guard (as large as the stack) a frame that jumps 400 KiB
// from the top of a 256 KiB stack still lands in its own guard; a 64 KiB
// guard let it into the stack below.
TEST(OverflowDeathTest, AnUnprobedFrameLargerThanTheStackStillHitsItsOwnGuard) {
  EXPECT_EXIT(
      {
        auto task =
            create(Options{.name = "deep-diver"}, [] { return test::touch_far_below(400 * 1024); });
        task.join();
      },
      ::testing::KilledBySignal(SIGSEGV), kReport);
}

// A frame that jumps the guard into the neighbour's guard is
// reported as the running coroutine's overflow, naming where it landed.
TEST(OverflowDeathTest, AFrameThatJumpsTheGuardIsBlamedOnTheRunningCoroutine) {
  // A size no other test uses: both stacks come fresh from one slab, the
  // first created below the second.
  constexpr std::size_t kSize = 40 * 1024;
  EXPECT_EXIT(
      {
        static Stack neighbour;
        auto below = create(Options{.stack_size = kSize, .name = "neighbour-below"}, [] {
          neighbour = current().stack();
          yield();
        });
        below.resume();
        auto jumper = create(Options{.stack_size = kSize, .name = "jumper"}, [] {
          if (!(neighbour.base < current().stack().base)) {
            _exit(77);  // the layout this test relies on changed
          }
          const char* middle_of_guard =
              static_cast<const char*>(neighbour.mapping_base()) + neighbour.guard_size() / 2;
          return test::touch_far_below(distance_down_to(middle_of_guard));
        });
        jumper.join();
      },
      ::testing::KilledBySignal(SIGSEGV),
      "cosync: stack overflow in coroutine #[0-9]+ \"jumper\": stack \\[0x[0-9a-f]+, "
      "0x[0-9a-f]+\\), guard \\[0x[0-9a-f]+, 0x[0-9a-f]+\\), fault address 0x[0-9a-f]+ "
      "outside its stack and guard, in the guard of coroutine #[0-9]+ \"neighbour-below\" "
      "\\(stack \\[0x[0-9a-f]+, 0x[0-9a-f]+\\)\\): a frame larger than the 65536-byte "
      "guard jumped it and may have overwritten the memory below; build with "
      "-fstack-clash-protection");
}

TEST(OverflowDeathTest, BrokenCanaryAbortsAtTheNextSwitch) {
  EXPECT_DEATH(
      {
        StackConfig config = stack_config();
        config.guard_policy = GuardPolicy::canary;
        configure_stacks(config);
        auto task = create(Options{.name = "scribbler"}, [] {
          // An overrun below the stack: what a missing guard lets through.
          std::memset(current().stack().base, 0, 16);
          yield();
        });
        task.resume();
      },
      "cosync: stack overflow \\(canary overwritten\\) in coroutine #[0-9]+ \"scribbler\"");
}

// The same overrun, found when the coroutine leaves by resuming another one
// that it resumed before (the resume the inline switch would take).
TEST(OverflowDeathTest, BrokenCanaryAbortsWhenItsCoroutineResumesAnother) {
  EXPECT_DEATH(
      {
        StackConfig config = stack_config();
        config.guard_policy = GuardPolicy::canary;
        configure_stacks(config);
        auto task = create(Options{.name = "scribbler"}, [] {
          auto child = create([] {
            for (;;) {
              yield();
            }
          });
          child.resume();
          std::memset(current().stack().base, 0, 16);
          child.resume();
          std::_Exit(0);  // unchecked: no death, the test fails
        });
        task.resume();
      },
      "cosync: stack overflow \\(canary overwritten\\) in coroutine #[0-9]+ \"scribbler\"");
}

}  // namespace
}  // namespace cosync
