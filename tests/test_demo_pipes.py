"""`make test` and the demo on any machine: output flushed into a pipe without
PYTHONUNBUFFERED, a reader that leaves early (`python -m sim | head`) ends the demo quietly,
and the suite's own subprocess tests hold when the caller ignores SIGINT."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRADING = ("STRATEGY", "CONFIRM_ORDERS", "PROPOSAL_TTL", "SYMBOLS", "INTERVAL")
BARE = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED" and k not in TRADING}
BARE["PYTHONPATH"] = str(ROOT)


def lines_of(stream) -> queue.Queue:  # type: ignore[no-untyped-def]
    q: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, ""):
            q.put(line)
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return q


def read_until(q: queue.Queue, text: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"no {text!r} within {timeout}s; got {''.join(seen)!r}")


@pytest.mark.slow  # multi-second (a subprocess or a long flood): make test-slow runs it
def test_the_banner_reaches_a_pipe_without_pythonunbuffered(tmp_path: Path) -> None:
    assert "PYTHONUNBUFFERED" not in BARE
    demo = subprocess.Popen(
        [sys.executable, "-m", "sim", "--speed", "0.05"], cwd=tmp_path, env=BARE, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        out = lines_of(demo.stdout)
        read_until(out, "Try:", timeout=30)  # while the demo waits for its first line
        assert demo.stdin is not None
        demo.stdin.close()
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


@pytest.mark.slow  # multi-second (a subprocess or a long flood): make test-slow runs it
def test_a_reader_that_leaves_early_ends_the_demo_quietly(tmp_path: Path) -> None:
    """`python -m sim | head -3`, with the person still at the terminal (stdin left open)."""
    shell = f"{sys.executable} -m sim --speed 0.05 | head -3"
    demo = subprocess.Popen(
        ["sh", "-c", shell], cwd=tmp_path, env=BARE, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert demo.stdin is not None and demo.stdout is not None and demo.stderr is not None
        demo.stdin.write("/start\n")  # answers go to a pipe nobody reads any more
        demo.stdin.flush()
        out = demo.stdout.read()  # head's 3 lines, then its end
        demo.wait(timeout=60)  # ends by itself: stdin is still open, nobody typed /quit
        err = demo.stderr.read()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        for stream in (demo.stdin, demo.stdout, demo.stderr):
            if stream is not None:
                stream.close()
    assert len(out.splitlines()) == 3
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


@pytest.mark.slow  # a subprocess run of several seconds: make test-slow (CI runs it)
def test_child_processes_are_interruptible_when_the_caller_ignores_sigint() -> None:
    """A suite started by a script in the background (`make test &`, nohup, some CI runners)
    inherits SIGINT ignored; the tests that stop a CLI with SIGINT must not depend on that."""
    code = (
        "import signal, subprocess, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "sys.exit(subprocess.call([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', "
        "'tests/test_replay_cli.py::test_cli_serves_and_stops_on_interrupt']))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
