// The coroutine layer: creation, switching, the main context, current(),
// user data, results, exceptions and every misuse the API promises to catch.
#include "cosync/coroutine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace cosync {
namespace {

template <class F>
std::string usage_error_of(F&& call) {
  try {
    call();
  } catch (const UsageError& error) {
    return error.what();
  }
  return "(no UsageError)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Coroutine, RunsACallableWithArgumentsAndReturnsItsValue) {
  auto task = create([](int a, const std::string& b) { return b + std::to_string(a); }, 42,
                     std::string("answer "));
  EXPECT_EQ(task->state(), CoroutineState::created);
  EXPECT_EQ(task.join(), "answer 42");
}

TEST(Coroutine, MoveOnlyArgumentsAndResults) {
  auto task = create([](std::unique_ptr<int> value) { return std::make_unique<int>(*value * 2); },
                     std::make_unique<int>(21));
  EXPECT_EQ(*task.join(), 42);
}

TEST(Coroutine, VoidCallable) {
  int calls = 0;
  auto task = create([&calls] { ++calls; });
  task.join();
  EXPECT_EQ(calls, 1);
}

TEST(Coroutine, ArgumentsAreCopiedOntoTheCoroutineStack) {
  std::string text = "original";
  auto task = create(
      [](std::string copy) {
        yield();
        return copy;
      },
      text);
  task.resume();
  text = "changed";
  EXPECT_EQ(task.join(), "original");
}

TEST(Coroutine, CallableLivesOnItsOwnStack) {
  std::uintptr_t callable_address = 0;
  Task<void> task = create([&callable_address]() { callable_address = 1; });
  const Stack& stack = task->stack();
  const auto* control_block = &task.coroutine();
  EXPECT_TRUE(stack.contains(control_block)) << "no heap allocation beyond the stack";
  task.join();
  EXPECT_EQ(callable_address, 1U);
}

TEST(Coroutine, YieldAndResumeInterleave) {
  std::vector<std::string> log;
  auto worker = [&log](const char* name) {
    for (int i = 0; i < 3; ++i) {
      log.push_back(std::string(name) + std::to_string(i));
      yield();
    }
  };
  auto a = create(worker, "a");
  auto b = create(worker, "b");
  while (!a.done() || !b.done()) {
    if (!a.done()) a.resume();
    if (!b.done()) b.resume();
  }
  const std::vector<std::string> expected = {"a0", "b0", "a1", "b1", "a2", "b2"};
  EXPECT_EQ(log, expected);
}

TEST(Coroutine, StatesFollowTheLifecycle) {
  CoroutineState inside = CoroutineState::created;
  auto task = create([&inside] {
    inside = current().state();
    yield();
  });
  EXPECT_EQ(task->state(), CoroutineState::created);
  task.resume();
  EXPECT_EQ(inside, CoroutineState::running);
  EXPECT_EQ(task->state(), CoroutineState::suspended);
  task.resume();
  EXPECT_EQ(task->state(), CoroutineState::finished);
  EXPECT_TRUE(task.done());
  EXPECT_STREQ(to_string(CoroutineState::suspended), "suspended");
}

TEST(Coroutine, CurrentAndMainContextAreAlwaysKnown) {
  EXPECT_FALSE(in_coroutine());
  EXPECT_EQ(&current(), &main_context());
  EXPECT_TRUE(main_context().is_main());
  EXPECT_STREQ(main_context().name(), "main");
  const Coroutine* seen = nullptr;
  bool inside = false;
  auto task = create(Options{.name = "worker"}, [&] {
    seen = &current();
    inside = in_coroutine();
  });
  const Coroutine* expected = &task.coroutine();
  task.join();
  EXPECT_EQ(seen, expected);
  EXPECT_TRUE(inside);
}

TEST(Coroutine, NamesAreKeptAndTruncated) {
  auto task = create(Options{.name = "a-name-that-is-far-longer-than-thirty-one-bytes"}, [] {});
  EXPECT_EQ(std::string(task->name()).size(), 31U);
  task->set_name("short");
  EXPECT_STREQ(task->name(), "short");
  task.join();
}

TEST(Coroutine, IdsAreUnique) {
  std::set<std::uint64_t> ids = {main_context().id()};
  std::vector<Task<void>> tasks;
  for (int i = 0; i < 100; ++i) {
    tasks.push_back(create([] {}));
    EXPECT_TRUE(ids.insert(tasks.back()->id()).second);
  }
}

// Reads the user data through current(), as deep code does (R3).
int read_user_data() { return *static_cast<int*>(current().user_data()); }

TEST(Coroutine, UserDataIsReachableWithoutAHandle) {
  int value = 7;
  auto task = create(Options{.user_data = &value}, [] {
    int first = read_user_data();
    yield();
    return first + read_user_data();
  });
  task.resume();
  int other = 35;
  task->set_user_data(&other);
  EXPECT_EQ(task.join(), 42);
}

void descend_then_yield_to_main(int depth, std::vector<int>& log) {
  if (depth == 0) {
    log.push_back(-1);
    yield_to_main();
    log.push_back(-2);
    return;
  }
  descend_then_yield_to_main(depth - 1, log);
}

TEST(Coroutine, YieldToMainWorksFromAnyDepth) {
  std::vector<int> log;
  auto task = create([&log] { descend_then_yield_to_main(50, log); });
  task.resume();
  EXPECT_EQ(log, std::vector<int>{-1});
  task.resume();
  EXPECT_EQ(log, (std::vector<int>{-1, -2}));
  EXPECT_TRUE(task.done());
}

TEST(Coroutine, NestedYieldReturnsToTheResumer) {
  std::vector<std::string> log;
  auto outer = create([&log] {
    auto inner = create([&log] {
      log.push_back("inner 1");
      yield();
      log.push_back("inner 2");
    });
    inner.resume();
    log.push_back("outer after inner yielded");
    inner.join();
    log.push_back("outer done");
  });
  outer.join();
  const std::vector<std::string> expected = {"inner 1", "outer after inner yielded", "inner 2",
                                             "outer done"};
  EXPECT_EQ(log, expected);
}

// The seed's "resumed too early": a coroutine waiting on another is
// switched to before the other finished, notices, and waits again.
TEST(Coroutine, ResumedTooEarlyCallerSeesTheTargetUnfinished) {
  int early_wakeups = 0;
  Task<void> inner = create([] {
    yield_to_main();  // skips its resumer: control lands in main
  });
  auto outer = create([&] {
    while (!inner.done()) {
      inner.resume();
      if (!inner.done()) {
        ++early_wakeups;
        yield_to_main();
      }
    }
  });
  outer.resume();  // outer resumes inner, inner goes straight to main
  EXPECT_EQ(outer->state(), CoroutineState::suspended);
  EXPECT_EQ(inner->state(), CoroutineState::suspended);
  outer.resume();  // outer's resume(inner) returns early
  outer.resume();
  outer.join();
  EXPECT_TRUE(inner.done());
  EXPECT_EQ(early_wakeups, 1);
}

TEST(Coroutine, DestroyingAResumerLeavesItsResumeeUsable) {
  Task<int> inner = create([] {
    yield_to_main();
    yield();
    return 3;
  });
  {
    auto outer = create([&inner] { inner.resume(); });
    outer.resume();  // outer waits in inner.resume(); inner went to main
  }                  // outer is unwound and destroyed while inner names it
  inner.resume();    // inner yields: to main, its resumer now
  EXPECT_EQ(inner->state(), CoroutineState::suspended);
  EXPECT_EQ(inner.join(), 3);
}

// Regression: a coroutine that destroys the coroutine that resumed it,
// whose pooled stack is then reused, must still yield back to main.
TEST(Coroutine, YieldAfterItsResumerWasDestroyedGoesToMain) {
  std::vector<std::string> log;
  auto* resumer = new Task<void>();
  Task<void> child = create([&] {
    delete resumer;  // destroys the suspended coroutine that resumed us
    Task<void> reuse = create([&log] { log.push_back("reuse ran"); });
    reuse.resume();  // runs on the stack just freed, inline
    reuse.join();
    yield();
    log.push_back("child resumed");
  });
  *resumer = create([&child] {
    child.resume();
    yield_to_main();
  });
  resumer->resume();
  log.push_back("main");
  EXPECT_EQ(child->state(), CoroutineState::suspended);
  child.join();
  const std::vector<std::string> expected = {"reuse ran", "main", "child resumed"};
  EXPECT_EQ(log, expected);
}

// A coroutine whose resumer finished while it was suspended yields to main:
// the resumer's end hands its resumees to main.
TEST(Coroutine, YieldAfterItsResumerFinishedGoesToMain) {
  std::vector<std::string> log;
  Task<void> outer;
  Task<void> inner = create([&] {
    outer.resume();  // switch straight back into outer, which then finishes
    log.push_back("inner back");
    yield();  // its resumer (outer) has finished: to main
    log.push_back("inner resumed");
  });
  outer = create([&] {
    inner.resume();  // returns early: inner resumed us directly
    log.push_back("outer done");
  });
  outer.resume();
  log.push_back("main");
  EXPECT_TRUE(outer.done());
  EXPECT_EQ(inner->state(), CoroutineState::suspended);
  inner.join();
  const std::vector<std::string> expected = {"outer done", "inner back", "main", "inner resumed"};
  EXPECT_EQ(log, expected);
}

// Only the coroutine on the CPU is running: the one that resumed it, and
// the main context, are suspended meanwhile.
TEST(Coroutine, OnlyTheCurrentContextIsRunning) {
  std::vector<CoroutineState> seen;
  Task<void> inner;
  auto outer = create([&] { inner.resume(); });
  inner = create([&] { seen = {current().state(), outer->state(), main_context().state()}; });
  outer.resume();
  const std::vector<CoroutineState> expected = {CoroutineState::running, CoroutineState::suspended,
                                                CoroutineState::suspended};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(main_context().state(), CoroutineState::running);
  EXPECT_EQ(outer->state(), CoroutineState::finished);
}

TEST(Coroutine, ExceptionReachesTheJoinerExactlyOnce) {
  auto task = create([]() -> int { throw std::runtime_error("disk on fire"); });
  try {
    task.join();
    FAIL() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "disk on fire");
  }
  EXPECT_TRUE(contains(usage_error_of([&] { task.join(); }), "already joined"));
}

TEST(Coroutine, ExceptionAfterSuspensionReachesTheJoiner) {
  struct Custom {
    int code;
  };
  auto task = create([] {
    yield();
    throw Custom{17};
  });
  task.resume();
  try {
    task.join();
    FAIL() << "no exception";
  } catch (const Custom& error) {
    EXPECT_EQ(error.code, 17);
  }
}

TEST(Coroutine, ExceptionsThrownAndCaughtInsideStayInside) {
  auto task = create([] {
    int caught = 0;
    for (int i = 0; i < 3; ++i) {
      try {
        throw std::logic_error("inside");
      } catch (const std::logic_error&) {
        ++caught;
      }
      yield();
    }
    return caught;
  });
  EXPECT_EQ(task.join(), 3);
  EXPECT_EQ(std::uncaught_exceptions(), 0);
}

TEST(Coroutine, SuspendingInsideACatchBlockIsRefused) {
  std::string refusal;
  auto task = create([&refusal] {
    try {
      throw std::runtime_error("being handled");
    } catch (const std::runtime_error&) {
      refusal = usage_error_of([] { yield(); });
    }
    yield();  // fine again once the catch block is left
    return 5;
  });
  task.resume();
  EXPECT_TRUE(contains(refusal, "cannot suspend inside a catch block")) << refusal;
  EXPECT_TRUE(contains(refusal, "coroutine #")) << refusal;
  EXPECT_EQ(task.join(), 5);
}

TEST(Coroutine, MainContextMayResumeFromInsideACatchBlock) {
  auto task = create([] {
    yield();
    return 1;
  });
  try {
    throw std::runtime_error("main handles this");
  } catch (const std::runtime_error&) {
    task.resume();  // the coroutine yields back: allowed
  }
  EXPECT_EQ(task.join(), 1);
}

TEST(Coroutine, ResumingAFinishedCoroutineIsAClearError) {
  auto task = create(Options{.name = "done-already"}, [] {});
  task.resume();
  const std::string message = usage_error_of([&] { task.resume(); });
  EXPECT_TRUE(contains(message, "has finished")) << message;
  EXPECT_TRUE(contains(message, "done-already")) << message;
}

TEST(Coroutine, ResumingTheRunningCoroutineIsAClearError) {
  std::string message;
  auto task = create(Options{.name = "self"},
                     [&message] { message = usage_error_of([] { current().resume(); }); });
  task.join();
  EXPECT_TRUE(contains(message, "already running")) << message;
}

TEST(Coroutine, ResumingFromAnotherThreadIsAClearError) {
  auto task = create([] { yield(); });
  task.resume();
  std::string message;
  std::thread other([&] { message = usage_error_of([&] { task.resume(); }); });
  other.join();
  EXPECT_TRUE(contains(message, "does not own it")) << message;
  task.join();
}

TEST(Coroutine, JoiningFromInsideItselfIsAClearError) {
  Task<void>* self = nullptr;
  std::string message;
  Task<void> task = create([&] { message = usage_error_of([&] { self->join(); }); });
  self = &task;
  task.join();
  EXPECT_TRUE(contains(message, "from inside itself")) << message;
}

TEST(Coroutine, YieldOutsideACoroutineIsAClearError) {
  EXPECT_TRUE(contains(usage_error_of([] { yield(); }), "outside any coroutine"));
  EXPECT_TRUE(contains(usage_error_of([] { yield_to_main(); }), "outside any coroutine"));
  EXPECT_TRUE(contains(usage_error_of([] { main_context().resume(); }), "main context"));
}

// A thread that never used cosync has no state; the inline switch then sees
// a placeholder (never a null pointer) and must still refuse both switches,
// and the thread must work normally afterwards.
TEST(Coroutine, SwitchesOnAThreadWithoutStateAreClearErrors) {
  auto task = create([] { yield(); });
  std::string yield_error;
  std::string resume_error;
  std::string resume_after_error;
  int ran = 0;
  std::thread fresh([&] {
    yield_error = usage_error_of([] { yield(); });
    resume_error = usage_error_of([&] { task.resume(); });
    auto own = create([&ran] {
      ++ran;
      yield();
      ++ran;
    });
    own.resume();
    resume_after_error = usage_error_of([] { yield_to_main(); });
    own.join();
  });
  fresh.join();
  EXPECT_TRUE(contains(yield_error, "outside any coroutine")) << yield_error;
  EXPECT_TRUE(contains(resume_error, "does not own it")) << resume_error;
  EXPECT_TRUE(contains(resume_after_error, "outside any coroutine")) << resume_after_error;
  EXPECT_EQ(ran, 2);
  task.resume();
  EXPECT_NO_THROW(task.join());
}

TEST(Coroutine, EmptyTaskIsAClearError) {
  Task<int> empty;
  EXPECT_FALSE(empty);
  EXPECT_TRUE(contains(usage_error_of([&] { empty.resume(); }), "empty task"));
}

// An empty or joined task names a stand-in rather than null (so resume()
// tests nothing): every use still says which misuse it is.
TEST(Coroutine, MovedFromAndJoinedTasksAreClearErrors) {
  auto task = create([] { return 7; });
  Task<int> taker = std::move(task);
  EXPECT_FALSE(task);  // NOLINT(bugprone-use-after-move): the moved-from state is the subject
  EXPECT_TRUE(task.done());
  EXPECT_TRUE(contains(usage_error_of([&] { task.resume(); }), "empty task"));
  EXPECT_TRUE(contains(usage_error_of([&] { (void)task->id(); }), "empty task"));
  EXPECT_EQ(taker.join(), 7);
  EXPECT_FALSE(taker);
  EXPECT_TRUE(taker.done());
  EXPECT_TRUE(contains(usage_error_of([&] { taker.resume(); }), "already joined"));
  Task<int> moved_joined = std::move(taker);
  EXPECT_TRUE(contains(usage_error_of([&] { moved_joined.resume(); }), "already joined"));
  EXPECT_TRUE(contains(usage_error_of([&] { taker.resume(); }), "empty task"));
  EXPECT_EQ(coroutine_stats().live, 0U);
}

TEST(Coroutine, TooLargeCallableForTheStackIsRejected) {
  struct Huge {
    char bytes[32 * 1024];
  };
  EXPECT_THROW((void)create(
                   Options{.stack_size = min_stack_size}, [](const Huge&) {}, Huge{}),
               std::invalid_argument);
}

TEST(Coroutine, ImpossibleStackSizeIsRejected) {
  EXPECT_THROW((void)create(Options{.stack_size = 100}, [] {}), std::invalid_argument);
}

int recurse(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  return depth == 0 ? frame[0] : recurse(depth - 1) + 1;
}

TEST(Coroutine, DeepRecursionCloseToTheStackSize) {
  // About 200 frames of just over 1 KiB on a 256 KiB stack.
  auto task = create([] { return recurse(200); });
  EXPECT_EQ(task.join(), 200);
}

TEST(Coroutine, RegistryListsLiveCoroutines) {
  const std::size_t before = coroutine_stats().live;
  auto a = create(Options{.name = "listed-a"}, [] {});
  auto b = create(Options{.name = "listed-b"}, [] {});
  std::vector<std::string> names;
  for_each_coroutine([&names](const Coroutine& c) { names.emplace_back(c.name()); });
  EXPECT_EQ(coroutine_stats().live, before + 2);
  EXPECT_NE(std::find(names.begin(), names.end(), "listed-a"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "listed-b"), names.end());
  a.join();
  b.join();
  EXPECT_EQ(coroutine_stats().live, before);
}

TEST(Coroutine, EachThreadHasItsOwnMainContextAndCoroutines) {
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> sums(kThreads, 0);
  std::vector<const Coroutine*> mains(kThreads, nullptr);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &sums, &mains] {
      mains[static_cast<std::size_t>(t)] = &main_context();
      std::vector<Task<int>> tasks;
      for (int i = 0; i < 1000; ++i) {
        tasks.push_back(create([i] {
          yield();
          return i;
        }));
        tasks.back().resume();
      }
      for (auto& task : tasks) sums[static_cast<std::size_t>(t)] += task.join();
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(sums[static_cast<std::size_t>(t)], 999 * 1000 / 2);
    EXPECT_NE(mains[static_cast<std::size_t>(t)], &main_context());
  }
}

TEST(Coroutine, ThousandsOfCoroutinesInterleave) {
  const std::size_t count = test::scaled(10000);
  std::vector<Task<std::size_t>> tasks;
  std::size_t steps = 0;
  for (std::size_t i = 0; i < count; ++i) {
    tasks.push_back(create(
        [&steps](std::size_t id) {
          ++steps;
          yield();
          ++steps;
          return id;
        },
        i));
  }
  for (auto& task : tasks) task.resume();
  EXPECT_EQ(steps, count);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(tasks[i].join(), i);
  }
  EXPECT_EQ(steps, 2 * count);
}

}  // namespace
}  // namespace cosync
