#include "base/thread_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/log.h"

namespace mlforge {

void LowerThreadPriority() {
  // Linux applies a PRIO_PROCESS nice value given a thread id to that thread only.
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kBackgroundNice) != 0) {
    log::Debug("cannot lower a background thread's priority");
  }
}

void RunOnlyWhenIdle() {
  sched_param param{};
  if (sched_setscheduler(gettid(), SCHED_IDLE, &param) != 0) {
    log::Debug("cannot put a background thread in SCHED_IDLE");
    LowerThreadPriority();
  }
}

void YieldCore() { sched_yield(); }

}  // namespace mlforge
