#!/usr/bin/env python3
"""How much the capture worker delayed the server's other threads.

Reads `perf sched timehist` output (one line per run of a task on the CPU:
end time, task, wait, scheduling delay, run time). A thread's scheduling
delay runs from its wakeup to its start on the CPU; the worker delayed it by
the part of that span the worker spent on the CPU (an idle-priority thread
should spend none: a wakeup preempts it).

Usage: worker_delay.py TIMEHIST_FILE WORKER_TID SERVER_PID
"""
import bisect
import re
import sys

LINE = re.compile(r"\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")
TASK = re.compile(r"\[(\d+)(?:/(\d+))?\]")


def main():
    path, worker, server = sys.argv[1], sys.argv[2], sys.argv[3]
    worker_runs, waits = [], []
    for line in open(path):
        m = LINE.match(line)
        if not m:
            continue
        t = TASK.search(m.group(3))
        if not t:
            continue
        tid, pid = t.group(1), t.group(2)
        end, delay, run = float(m.group(1)), float(m.group(5)) / 1000, float(m.group(6)) / 1000
        start = end - run
        if tid == worker:
            worker_runs.append((start, end))
        elif pid == server:
            waits.append((start - delay, start))
    worker_runs.sort()
    starts = [r[0] for r in worker_runs]
    inside = []  # microseconds of worker time inside each wait
    for w0, w1 in waits:
        i, us = max(0, bisect.bisect_right(starts, w0) - 1), 0.0
        while i < len(worker_runs) and worker_runs[i][0] < w1:
            us += max(0.0, min(w1, worker_runs[i][1]) - max(w0, worker_runs[i][0])) * 1e6
            i += 1
        inside.append(us)
    if not inside:
        sys.exit("worker_delay: no runs of the server's threads in " + path)
    inside.sort()
    hits = [x for x in inside if x > 0]
    n = len(inside)
    q = lambda p: inside[min(n - 1, int(p * n))]
    print(f"server-thread runs: {n}; worker on the CPU during the wait before {len(hits)} of them "
          f"({100 * len(hits) / n:.3f}%)")
    print(f"worker time inside a wait (us): p99 {q(0.99):.0f}, p99.9 {q(0.999):.0f}, "
          f"max {inside[-1]:.0f}; mean over those delayed {sum(hits) / max(len(hits), 1):.0f}")
    busy = sum(e - s for s, e in worker_runs) * 1e3
    print(f"worker on the CPU: {busy:.0f} ms in {len(worker_runs)} runs")


if __name__ == "__main__":
    main()
