// Task::join (coroutine.hpp): a created coroutine handed to the loop the way
// spawn hands one, and waited for the way Request::get waits.
#include <string>

#include "cosync/coroutine.hpp"
#include "cosync/request.hpp"

namespace cosync::detail {
namespace {

// The loop's view of a joined coroutine, on the joiner's stack: the step a
// spawned coroutine has (see SpawnState), which wakes the joiner when the
// coroutine has finished. It never outlives the join: a coroutine still
// unfinished when the join ends is unwound first, because its waits point
// at this record (Scheduling::waiting, an fd wait's step).
class JoinSchedule {
 public:
  JoinSchedule(Coroutine& task, Loop& loop, Waiter& joiner) noexcept
      : task_(task), loop_(loop), joiner_(joiner) {
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

  // A step run in place: the loop's step, without the loop.
  void run_first_step() {
    task_.resume();
    after_step();
  }
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
      joiner_.wake();
    } else if (!scheduling_.waiting) {
      schedule();
    }
  }

  Coroutine& task_;
  Loop& loop_;
  Waiter& joiner_;
  Scheduling scheduling_;
};

}  // namespace

void await_finished(Coroutine& coroutine, Deadline deadline) {
  check_joinable(coroutine);
  if (scheduling_of(coroutine) != nullptr) {
    throw UsageError("cosync: join of " + label(coroutine) +
                     ", which the loop already schedules (it is being joined)");
  }
  Waiter joiner;
  JoinSchedule schedule(coroutine, this_loop(), joiner);
  // On the main context the first step runs in place: a coroutine that
  // finishes without waiting costs no loop iteration.
  if (in_coroutine()) {
    schedule.schedule();
  } else {
    schedule.run_first_step();
  }
  if (!joiner.wait([&schedule] { return schedule.finished(); }, deadline)) {
    schedule.abandon();
    throw TimedOut("cosync: join of " + label(coroutine) +
                   " timed out; the coroutine was cancelled");
  }
}

}  // namespace cosync::detail
