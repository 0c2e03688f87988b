// Task::join (coroutine.hpp) past its first step: the join hook the request
// layer gives the coroutine layer, which hands the created coroutine to the
// loop the way spawn hands one and waits the way Request::get waits.
#include <string>

#include "cosync/coroutine.hpp"
#include "cosync/request.hpp"

namespace cosync::impl {
namespace {

// The loop's view of a joined coroutine, on the joiner's stack: the step a
// spawned coroutine has (see SpawnState), which wakes the joiner when the
// coroutine has finished. It never outlives the join: a coroutine still
// unfinished when the join ends is unwound first, because its waits point
// at this record (Scheduling::waiting, an fd wait's step).
class JoinSchedule {
 public:
  JoinSchedule(Coroutine& task, Loop& loop) noexcept : task_(task), loop_(loop) {
    scheduling_.step.fn = &JoinSchedule::on_step;
    scheduling_.step.data = this;
    scheduling_.step.resume = &task;
    scheduling_.loop = &loop;
    scheduling_of(task) = &scheduling_;
  }
  JoinSchedule(const JoinSchedule&) = delete;
  JoinSchedule& operator=(const JoinSchedule&) = delete;
  ~JoinSchedule() {
    if (scheduling_.step.queued || !finished()) {
      abandon();
    }
    scheduling_of(task_) = nullptr;
  }

  bool finished() const noexcept { return task_.state() == CoroutineState::finished; }
  // Who is woken when the coroutine finishes; none while the first step
  // runs in place.
  void set_joiner(Waiter& joiner) noexcept { joiner_ = &joiner; }

  void schedule() noexcept { loop_.post_immediate(scheduling_.step); }

  // Cancels and unwinds the coroutine if it has not finished.
  void abandon() noexcept {
    loop_.cancel_immediate(scheduling_.step);
    if (!finished()) {
      unwind_for_destruction(task_);
    }
    loop_.cancel_immediate(scheduling_.step);
  }

 private:
  static void on_step(Immediate* step) noexcept {
    static_cast<JoinSchedule*>(step->data)->after_step();
  }

  // As SpawnState::after_resume: a coroutine that suspended outside any
  // wait (plain yield) only let the loop run and goes again next iteration.
  void after_step() noexcept {
    if (finished()) {
      if (joiner_ != nullptr) joiner_->wake();
    } else if (!scheduling_.waiting) {
      schedule();
    }
  }

  Coroutine& task_;
  Loop& loop_;
  Waiter* joiner_ = nullptr;
  Scheduling scheduling_;
};

// Out of line, so that a join whose coroutine finishes in its first step
// builds no Waiter.
[[gnu::noinline]] void wait_until_finished(JoinSchedule& schedule, Coroutine& coroutine,
                                           Deadline deadline) {
  Waiter joiner;
  schedule.set_joiner(joiner);
  if (!joiner.wait([&schedule] { return schedule.finished(); }, deadline)) {
    schedule.abandon();
    throw TimedOut("cosync: join of " + label(coroutine) +
                   " timed out; the coroutine was cancelled");
  }
}

}  // namespace

namespace {

// The join hook (set_join_hook): the coroutine suspended, so from here on
// the loop runs every step. A wait it suspended in counts the loop's first
// resume as early (the loop cannot tell a wait from a plain yield it was
// not scheduling).
void join_through_loop(Coroutine& coroutine, Deadline deadline) {
  if (scheduling_of(coroutine) != nullptr) {
    throw UsageError("cosync: join of " + label(coroutine) +
                     ", which the loop already schedules (it is being joined)");
  }
  JoinSchedule schedule(coroutine, this_loop());
  schedule.schedule();
  wait_until_finished(schedule, coroutine, deadline);
}

}  // namespace
}  // namespace cosync::impl

// Registers the join hook when the program starts. Named by the static
// library's link options (-u), so a program that joins but names nothing
// else of this object still links it.
extern "C" const bool cosync_join_hook_anchor = [] {
  cosync::impl::set_join_hook(&cosync::impl::join_through_loop);
  return true;
}();
