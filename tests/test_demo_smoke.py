"""`python -m bot --demo --script` as CI runs it: the whole product in a subprocess."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_scripted_demo_conversation_runs_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--demo", "--script", str(ROOT / "tests" / "demo_script.txt"), "--speed", "0.05"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for expected in ("Commands", "socket started", "Status", "last 5 closed candles", "Stream stopped", "socket stopped"):
        assert expected in out, f"{expected!r} missing from transcript:\n{out}"
    assert (tmp_path / "demo" / "demo.sqlite").exists()
