"""Where a benchmark ran: the memory bandwidth, the load, and a memory-bound neighbour.

A target holds on a machine of this kind only if it holds with margin on the slower ones
too: less memory bandwidth, or another process on the other core. So every benchmark that
claims a target (issue 21) runs each size twice, **quiet** and with a **neighbour**: a
process pinned to the last core that streams 1 GiB copies through memory for as long as the
measurement lasts, taking a core and a share of the bandwidth as a busy co-tenant would.
Each table then says what the machine could do (the bandwidth measured here, in one thread
and in all) and what it was doing (the 1-minute load average before and after, and the
neighbour's own copy rate while it ran).

    with machine.condition("neighbour") as neighbour:
        result = measure(...)
    result |= machine.stamp("neighbour", neighbour)
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[1]
CONDITIONS = ("quiet", "neighbour")
#: How each condition reads in a table.
WORDS = {"quiet": "quiet", "neighbour": "memory-bound neighbour"}

_BANDWIDTH = """
import json, time
import numba as nb, numpy as np

@nb.njit(parallel=True, fastmath=True)
def total(a):
    s = 0.0
    for i in nb.prange(a.size):
        s += a[i]
    return s

@nb.njit(fastmath=True)
def total_one(a):
    s = 0.0
    for i in range(a.size):
        s += a[i]
    return s

a = np.ones(2**27)  # 1 GiB
total(a[:100]); total_one(a[:100])
def best(f, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)
b = np.empty_like(a)
print(json.dumps({
    "read_bytes_per_s": a.nbytes / best(lambda: total(a), 7),
    "read_one_thread_bytes_per_s": a.nbytes / best(lambda: total_one(a), 5),
    "copy_bytes_per_s": 2 * a.nbytes / best(lambda: np.copyto(b, a), 5),
    "threads": nb.get_num_threads(),
}))
"""

# The neighbour: pinned to the last core, copies 512 MiB back and forth (1 GiB read and
# 1 GiB written a round) and writes its rate to a file after each round.
_NEIGHBOUR = """
import json, os, sys, time
import numpy as np
os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
a = np.ones(2**26); b = np.empty_like(a)
out = sys.argv[1]
while True:
    t = time.perf_counter()
    np.copyto(b, a); np.copyto(a, b)
    rate = 4 * a.nbytes / (time.perf_counter() - t)
    with open(out + ".tmp", "w") as f:
        json.dump({"copy_bytes_per_s": rate, "at": time.time()}, f)
    os.replace(out + ".tmp", out)
"""

_CACHE: dict = {}


def bandwidth() -> dict:
    """The memory bandwidth of this machine, measured once per run in a fresh process
    with nothing else of ours running: a parallel and a one-thread numba sum over 1 GiB
    (reads), and ``np.copyto`` (read + write)."""
    if "bandwidth" not in _CACHE:
        out = subprocess.run(
            [sys.executable, "-c", _BANDWIDTH], check=True, capture_output=True, text=True,
            cwd=ROOT,
        )  # fmt: skip
        _CACHE["bandwidth"] = json.loads(out.stdout.strip().splitlines()[-1])
    return _CACHE["bandwidth"]


@contextlib.contextmanager
def neighbour() -> Iterator[dict]:
    """Run the memory-bound neighbour for the duration of the block.

    Yields a dict that, after the block, holds the neighbour's copy rate (bytes/s, its
    last round) so the table can say how much it took.
    """
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "rate.json"
        proc = subprocess.Popen([sys.executable, "-c", _NEIGHBOUR, str(report)], cwd=ROOT)
        info: dict = {}
        try:
            deadline = time.monotonic() + 60
            while not report.exists():  # its first round done: it is streaming
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the memory-bound neighbour did not start")
                time.sleep(0.05)
            yield info
            info.update(json.loads(report.read_text()))
        finally:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def condition(name: str) -> Iterator[dict]:
    """``quiet``: nothing started; ``neighbour``: `neighbour` running."""
    if name not in CONDITIONS:
        raise ValueError(f"unknown condition {name!r}: one of {', '.join(CONDITIONS)}")
    if name == "neighbour":
        with neighbour() as info:
            yield info
    else:
        yield {}


def load() -> float:
    """The 1-minute load average now."""
    return os.getloadavg()[0]


def stamp(name: str, info: dict, load_before: float) -> dict:
    """What to keep with a result measured under condition ``name``."""
    out = {"condition": name, "load_before": load_before, "load_after": load()}
    if info.get("copy_bytes_per_s"):
        out["neighbour_bytes_per_s"] = info["copy_bytes_per_s"]
    return out


def measure_in(name: str, measure, *args) -> dict:
    """``measure(*args)`` under condition ``name``, stamped."""
    before = load()
    with condition(name) as info:
        result = measure(*args)
    return {**result, **stamp(name, info, before)}


def cell(result: dict) -> str:
    """A table cell saying where a row was measured: the condition and the load."""
    words = WORDS[result.get("condition", "quiet")]
    load = f"load {result['load_before']:.1f}→{result['load_after']:.1f}"
    if "neighbour_bytes_per_s" in result:
        load += f", neighbour copying {result['neighbour_bytes_per_s'] / 1e9:.1f} GB/s"
    return f"{words} ({load})"


def describe() -> str:
    """A sentence on the machine: cores, memory, bandwidth, and what the conditions are."""
    bw = bandwidth()
    gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"Machine: {os.cpu_count()} cores, {gib:.0f} GiB; memory bandwidth measured in the "
        f"same run {bw['read_bytes_per_s'] / 1e9:.1f} GB/s reading in {bw['threads']} threads "
        f"({bw['read_one_thread_bytes_per_s'] / 1e9:.1f} GB/s in one), "
        f"{bw['copy_bytes_per_s'] / 1e9:.1f} GB/s `np.copyto` (read + write). Each size is "
        "measured quiet and again with a memory-bound neighbour: a process pinned to the last "
        "core copying 1 GiB back and forth for as long as the measurement lasts "
        "(`benchmarks/machine.py`); each row gives the 1-minute load average before and after."
    )
