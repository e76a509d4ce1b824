"""bench.sampled: the samples are CPU the process spent, never time it waited (where
py-spy, by the wall clock, counts a runnable thread waiting for a core)."""

from __future__ import annotations

import contextvars
import signal
import time
from pathlib import Path

from bench.sampled import INTERVAL_S, OUTSIDE, TAG, Sampler, report


def spin(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def test_cpu_is_sampled_and_waiting_is_not(tmp_path: Path) -> None:
    sampler = Sampler()
    old = signal.getsignal(signal.SIGPROF)
    try:
        sampler.install(from_start=True)
        # Twice what the bound below counts: the kernel fires ITIMER_PROF at most once a
        # tick (4 ms at 250 Hz), half the samples INTERVAL_S asks for.
        spin(0.6)
        time.sleep(0.3)  # waiting
    finally:
        sampler.write(tmp_path / "out.folded")
        signal.signal(signal.SIGPROF, old)
    leaves = [(stack.rsplit(";", 1)[-1], n) for stack, n in sampler.stacks.items()]
    spun = sum(n for leaf, n in leaves if leaf.startswith("spin ("))
    slept = sum(n for leaf, n in leaves if leaf.startswith("test_cpu_is_sampled"))
    assert spun >= 0.3 / INTERVAL_S / 2  # most of the CPU the loop took, at 250 Hz
    # The sleep itself: next to nothing (a wall clock would give it as many samples as
    # the loop; a sample lands on it only for the CPU of another thread meanwhile).
    assert slept < spun / 10
    text = report(tmp_path / "out.folded")
    assert "spin" in text


def test_each_sample_names_the_operation_its_code_worked_for(tmp_path: Path) -> None:
    # given: a label read from the interrupted code's context, as the server's is (the
    # access log's record of the request whose task runs)
    working_for: contextvars.ContextVar[str | None] = contextvars.ContextVar("op", default=None)
    sampler = Sampler(working_for.get)
    old = signal.getsignal(signal.SIGPROF)
    try:
        sampler.install(from_start=True)
        # when: CPU spent for an operation, then for none
        token = working_for.set("Dashboard")
        spin(0.3)
        working_for.reset(token)
        spin(0.3)
    finally:
        sampler.write(tmp_path / "out.folded")
        signal.signal(signal.SIGPROF, old)
    # then: every stack starts with what its CPU was spent for, and the report adds up by it
    firsts = {stack.split(";", 1)[0] for stack in sampler.stacks}
    assert firsts == {TAG + "Dashboard", TAG + OUTSIDE}
    text = report(tmp_path / "out.folded")
    by_operation = text.split("by operation\n", 1)[1].split("\n\n", 1)[0]
    assert "Dashboard" in by_operation
    assert OUTSIDE in by_operation
    assert "operation:" not in text.split("by library", 1)[1]  # not a frame of the stacks
