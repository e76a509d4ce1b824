"""Where a server process spends its CPU: `scheduling-worker` run with a sampler of its
own CPU clock.

    python -m bench.sampled OUT serve --port 3003      # the server, sampled
    python -m bench.sampled --report OUT               # what it sampled, summed up

py-spy samples every thread that is not idle by the wall clock. On a machine whose cores
are all busy (the server, nx-27017, Redis and the clients on two), a thread that has
just written to a socket is often runnable, waiting for a core, and py-spy counts it
there: in the load mix it put 8-9% of the API's samples in asyncio's `writelines` and
5% in pymongo's socket write (`--gil` too: uvloop writes with the GIL held), where
the process's whole system time was 4% of its CPU. Here the kernel's `ITIMER_PROF`
sends the process a signal every `INTERVAL_S` of its own CPU time (user and system),
and the handler takes the Python stack it interrupted: a sample is CPU spent, never a
wait. (Python runs the handler in the main thread, at the next bytecode: a long C call
counts for the Python line that made it, and the CPU of other threads for whatever
the main thread was running. The API's other threads are pymongo's monitors, idle.)

Samples are taken between SIGUSR1 and SIGUSR2 (from the start without them, with
`--from-start`), and written at exit as folded stacks ("frame;frame;... count" per line),
which speedscope and flamegraph.pl read too. Each stack starts with the operation the
interrupted code was working for (`operation: Dashboard`; the handler runs in the
interrupted task's context, so this is the access log's record of its request): `(not
yet known)` before a request's operation is (reading it, parsing the body), `(outside a
request)` for what no request's task ran (hypercorn reading the sockets, the event loop,
the collector). The report shows the shares by operation first; in a flame graph each
operation is a tower of its own.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

INTERVAL_S = 0.002
SITE = re.compile(r".*/site-packages/")
ROOT = str(Path(__file__).resolve().parents[1]) + "/"


OUTSIDE, UNKNOWN = "(outside a request)", "(not yet known)"
TAG = "operation: "


class Sampler:
    """`label()`: what the interrupted code works for (None: no request), the first
    frame of each stack."""

    def __init__(self, label: Callable[[], str | None] = lambda: None) -> None:
        self.stacks: collections.Counter[str] = collections.Counter()
        self.on = False
        self._label = label

    def install(self, *, from_start: bool) -> None:
        self.on = from_start
        signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "on", True))
        signal.signal(signal.SIGUSR2, lambda *_: setattr(self, "on", False))
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, INTERVAL_S, INTERVAL_S)

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        if not self.on:
            return
        names = []
        while frame is not None:
            code = frame.f_code
            where = SITE.sub("", code.co_filename)
            names.append(f"{code.co_qualname} ({where}:{code.co_firstlineno})")
            frame = frame.f_back
        names.append(TAG + (self._label() or OUTSIDE))
        self.stacks[";".join(reversed(names))] += 1

    def write(self, out: Path) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        with out.open("w") as f:
            for stack, count in self.stacks.items():
                f.write(f"{stack} {count}\n")


def operation_of_request() -> str | None:
    """The operation of the request whose task is running (see the module's docs)."""
    from graphql_api.observability.requests import current  # noqa: PLC0415 - the server's

    record = current()
    if record is None:
        return None
    return record.operation_name or UNKNOWN


def _library(frame: str) -> str:
    where = frame.rsplit("(", 1)[1]
    if where.startswith(ROOT):
        return "ours: " + where[len(ROOT) :].split("/")[0]
    if "/lib/python3" in where:
        return "stdlib: " + where.split("/lib/python3")[1].split("/")[1].split(":")[0]
    return where.split("/")[0].split(":")[0]


def report(path: Path, top: int = 30) -> str:
    """The samples by operation, by library, by function (its own time), and by the
    innermost of our functions on the stack (what our code spends, libraries included)."""
    operations: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    libraries: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        frames, n = stack.split(";"), int(count)
        if frames[0].startswith(TAG):
            operations[frames.pop(0).removeprefix(TAG)] += n
        total += n
        own[frames[-1]] += n
        libraries[_library(frames[-1])] += n
        mine = [f for f in frames if _library(f).startswith("ours")]
        ours[mine[-1] if mine else "(none of ours)"] += n
    # The kernel fires ITIMER_PROF at most once a tick: a sample is INTERVAL_S of CPU or
    # one tick, whichever is longer (4 ms at 250 Hz); the shares are the same either way.
    lines = [f"{total} samples, each {INTERVAL_S * 1000:g} ms of CPU or a kernel tick if longer"]
    for title, counts in (
        ("by operation", operations),
        ("by library", libraries),
        ("by function, its own time", own),
        ("by the innermost function of ours", ours),
    ):
        lines += ["", title]
        lines += [f"{100 * n / total:5.1f}%  {name}" for name, n in counts.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--report"]:
        print(report(Path(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-start", action="store_true")
    parser.add_argument("out", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    sampler = Sampler(operation_of_request)
    sampler.install(from_start=args.from_start)
    atexit.register(sampler.write, args.out)
    from graphql_api.cli import main as cli  # noqa: PLC0415 - after the sampler is set

    sys.argv = ["scheduling-worker", *args.command]
    cli()


if __name__ == "__main__":
    main()
