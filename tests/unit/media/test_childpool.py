"""Warm children: reused while they answer, replaced when they crash or overrun, retired
after their uses, never more idle than asked."""

from __future__ import annotations

import os
import threading
import time

import psutil
import pytest

from shared.errors import JobTimedOut, MediaLimitExceeded, TransformationFailed
from shared.media.childpool import ChildPool
from shared.media.limits import Deadline

# A child that answers each request with its pid, after the lines it is asked to print;
# "crash" kills it, "sleep" hangs it, "eat" allocates past its address space.
CHILD = """
import json, os, signal, sys, time
for line in sys.stdin:
    request = json.loads(line)
    command, args = request["command"], request["args"]
    if command == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if command == "sleep":
        time.sleep(60)
    if command == "eat":
        hog = bytearray(int(args[0]))
    for text in args if command == "lines" else []:
        print(text, flush=True)
    print("report " + json.dumps({"pid": os.getpid()}), flush=True)
"""
MEMORY = 512 * 2**20


@pytest.fixture
def pool():
    children = ChildPool(CHILD, "test child", keep_idle=2, max_uses=3)
    yield children
    children.close()


def ask(pool: ChildPool, command: str = "pid", *args: str, seconds: float = 20,
        on_line=None) -> int:
    return pool.request(command, list(args), memory_bytes=MEMORY, deadline=Deadline(seconds),
                        on_line=on_line)["pid"]


def test_a_child_is_reused_and_its_lines_come_before_its_report(pool: ChildPool) -> None:
    lines: list[str] = []
    first = ask(pool, "lines", "page 1 2", "page 2 2", on_line=lines.append)
    assert lines == ["page 1 2", "page 2 2"]
    assert ask(pool) == first != os.getpid()


def test_a_crash_fails_its_request_only_and_the_next_gets_a_new_child(pool: ChildPool) -> None:
    first = ask(pool)
    with pytest.raises(TransformationFailed) as failed:
        ask(pool, "crash")
    assert failed.value.details["exit_code"] == -11
    assert ask(pool) != first


def test_a_child_past_the_deadline_is_killed(pool: ChildPool) -> None:
    started = time.monotonic()
    with pytest.raises(JobTimedOut):
        ask(pool, "sleep", seconds=1)
    assert time.monotonic() - started < 5
    ask(pool)  # and the pool goes on


def test_a_child_past_its_memory_fails_with_the_memory_limit(pool: ChildPool) -> None:
    with pytest.raises(MediaLimitExceeded) as failed:
        ask(pool, "eat", str(2 * MEMORY))
    assert failed.value.details["limit"] == "memory_bytes"


def test_children_are_retired_after_their_uses(pool: ChildPool) -> None:
    pids = [ask(pool) for _ in range(7)]
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4] == pids[5] != pids[6]


def test_no_more_children_are_kept_idle_than_asked(pool: ChildPool) -> None:
    barrier = threading.Barrier(4)
    pids: list[int] = []

    def busy() -> None:
        barrier.wait()
        pids.append(ask(pool, "lines", "x"))

    threads = [threading.Thread(target=busy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pool._idle) <= 2
    assert len(set(pids)) >= 2  # side by side, in children of their own


def test_a_request_given_up_by_its_caller_takes_its_child_down(pool: ChildPool) -> None:
    def refuse(_line: str) -> None:
        raise RuntimeError("the job was cancelled")

    before = _children()
    with pytest.raises(RuntimeError):
        ask(pool, "lines", "page 1 2", on_line=refuse)
    assert pool._idle == []  # not given back half-way through an answer
    assert _children() == before  # stopped and reaped


def test_the_most_recent_children_are_kept_whatever_their_limit(pool: ChildPool) -> None:
    before = _children()
    for memory in (MEMORY, MEMORY + 1, MEMORY + 2):
        pool.request("pid", [], memory_bytes=memory, deadline=Deadline(20))
    assert [limit for limit, _ in pool._idle] == [MEMORY + 1, MEMORY + 2]
    assert len(_children() - before) == 2  # the first was stopped


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children()}
