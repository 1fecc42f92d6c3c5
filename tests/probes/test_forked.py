"""probes.forked: a function over many items in forked children, with the answer a single process gives, whatever
happens to the children (real forks, real signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from torchdoctor.probes import forked, subproc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
PARENT = os.getpid()


def square_where(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


def test_the_children_share_the_items_and_the_results_come_back_in_order() -> None:
    results = forked.map_forked(square_where, list(range(50)), 3)
    assert [r for r, _ in results] == [i * i for i in range(50)]
    workers = {pid for _, pid in results}
    assert len(workers) == 3 and PARENT not in workers
    assert not subproc._FORKED  # every child waited for and forgotten


def test_one_child_or_one_item_is_done_here_without_a_fork() -> None:
    assert {pid for _, pid in forked.map_forked(square_where, list(range(10)), 1)} == {PARENT}
    assert forked.map_forked(square_where, [7], 4) == [(49, PARENT)]
    assert forked.map_forked(square_where, [], 4) == []


def test_a_process_with_another_thread_running_is_not_forked() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert {pid for _, pid in forked.map_forked(square_where, list(range(10)), 3)} == {PARENT}
    finally:
        stop.set()
        other.join()


def die_on_seven(item: int) -> tuple[int, int]:
    if item == 7 and os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    return square_where(item)


def raise_on_seven(item: int) -> tuple[int, int]:
    if item == 7 and os.getpid() != PARENT:
        raise MemoryError("a child ran out")
    return square_where(item)


def unpicklable_on_seven(item: int) -> object:
    return (lambda: item) if item == 7 and os.getpid() != PARENT else item


@pytest.mark.parametrize("work", [die_on_seven, raise_on_seven])
def test_a_child_that_dies_or_fails_has_its_share_done_here_and_the_others_keep_theirs(work: object) -> None:
    results = forked.map_forked(work, list(range(30)), 3)  # type: ignore[arg-type]
    assert [r for r, _ in results] == [i * i for i in range(30)]
    here = [i for i, (_, pid) in enumerate(results) if pid == PARENT]
    assert here == list(range(1, 30, 3))  # 7's share (every third item from 1), and only that share


def test_a_share_whose_results_cannot_be_sent_is_done_here() -> None:
    results = forked.map_forked(unpicklable_on_seven, list(range(12)), 2)
    assert results == list(range(12))


@pytest.mark.parametrize(("signum", "said"), [(signal.SIGTERM, "terminated"), (signal.SIGINT, "interrupted")])
def test_an_interrupted_doctor_leaves_no_forked_child_behind(signum: int, said: str) -> None:
    """SIGTERM to the doctor, or Ctrl-C to its whole process group, while its children work: the doctor's handler
    kills them (each by its pid: they are not process-group leaders), and only the doctor says one line."""
    code = textwrap.dedent(
        """
        import os, sys, time
        from torchdoctor.signals import install_signal_handlers
        from torchdoctor.probes import forked
        install_signal_handlers()
        def slow(item):
            if os.getpid() != PARENT:
                os.write(1, f"child {os.getpid()}\\n".encode())  # one write: the two children share the pipe
                time.sleep(60)
            return item
        PARENT = os.getpid()
        forked.map_forked(slow, list(range(4)), 2)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines = [proc.stdout.readline() for _ in range(2)]
    assert all(line.startswith("child ") for line in lines), (lines, proc.stderr.read() if proc.poll() else "")
    children = {int(line.split()[1]) for line in lines}
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # as the terminal sends Ctrl-C: to every process of the group
    else:
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum
    assert err.count(f"torchdoctor: {said}") == 1 and err.count("torchdoctor:") == 1, err
    assert all(ended(pid) for pid in children), children


def ended(pid: int) -> bool:
    """``pid`` is gone, or dead and not yet reaped, within a few seconds (SIGKILL takes effect when it runs next)."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(100):
        try:
            if stat.read_text().split()[2] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False
