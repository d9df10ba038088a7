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

// Puts the calling thread in SCHED_IDLE (best effort): any other thread that
// wakes on its core preempts it at once. For work that may fall behind and
// shed load (the monitors' capture queue drops and counts), never for work
// a request waits on.
void RunOnlyWhenIdle();

}  // namespace mlforge
