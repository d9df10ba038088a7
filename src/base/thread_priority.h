// Background threads (model loading, shadow predictions, monitoring) give
// way to the request path: on a busy core the request threads win, and the
// background work spreads out instead of stalling requests.
#pragma once

namespace mlforge {

// The nice value background threads run at.
inline constexpr int kBackgroundNice = 19;

// Applies kBackgroundNice to the calling thread only (best effort: logged at
// debug level when the system refuses).
void LowerThreadPriority();

// Puts the calling thread in SCHED_IDLE (best effort): it runs when nothing
// else wants its core. For work that may fall behind and shed load (the
// monitors' capture queue drops and counts), never for work a request waits
// on. Such a thread must also call YieldCore between short steps of work.
void RunOnlyWhenIdle();

// Offers the core to any other runnable thread (sched_yield). SCHED_IDLE alone
// does not bound how long a request thread waits: on Linux 6.18 (EEVDF,
// HZ=250) perf sched showed an idle-policy thread that had the core keep it
// until the next tick, 4 ms, while a runnable request thread waited.
void YieldCore();

}  // namespace mlforge
