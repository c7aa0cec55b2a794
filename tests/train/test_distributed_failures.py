"""Several processes end together: a malformed torchrun environment is one line, and a process whose
peer stalls or dies gives up after ``$MYGPT_DIST_TIMEOUT`` seconds with one line instead of hanging."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import TEXT, TINY, fails_cleanly

# Rank 1 of the stalled run: its second batch never comes.
_STALL = """
import sys, time
import mygpt.train.loop as loop
from mygpt.cli import main
original, calls = loop.get_batch, []
def stalled(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        time.sleep(600)
    return original(*args, **kwargs)
loop.get_batch = stalled
main(sys.argv[1:])
"""


@pytest.mark.parametrize("env, fragment", [
    ({"WORLD_SIZE": "abc"}, "WORLD_SIZE='abc' must be a whole number 1 or more"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE='0'"),
    ({"WORLD_SIZE": "2", "RANK": "5"}, "RANK='5' must be a whole number from 0 to 1"),
    ({"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "x"}, "LOCAL_RANK='x'"),
    ({"WORLD_SIZE": "2", "RANK": "0", "MYGPT_DIST_TIMEOUT": "soon"}, "MYGPT_DIST_TIMEOUT='soon'"),
])
def test_a_malformed_environment_is_one_line(tmp_path, monkeypatch, capsys, env, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.txt").write_text(TEXT)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fails_cleanly(["train", "t.txt", *TINY, "--output", "m.ckpt"], capsys, fragment)
    assert not (tmp_path / "m.ckpt").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, argv: list[str], cwd: Path, port: int, code: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "MYGPT_DIST_TIMEOUT": "3",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [sys.executable, "-c", code, *argv] if code else [sys.executable, "-m", "mygpt", *argv]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("peer", [pytest.param("never joins", marks=pytest.mark.slow), "stalls"])
def test_a_stalled_peer_ends_the_run_in_one_line(tmp_path, peer):
    (tmp_path / "t.txt").write_text(TEXT)
    argv = ["train", "t.txt", *TINY, "--steps", "4", "--output", "m.ckpt"]
    port = _free_port()
    other = None if peer == "never joins" else _rank(1, argv, tmp_path, port, _STALL)
    start = time.monotonic()
    try:
        main_rank = _rank(0, argv, tmp_path, port)
        _, err = main_rank.communicate(timeout=120)
    finally:
        if other is not None:
            other.kill()
            other.communicate()
    assert main_rank.returncode == 2, err
    assert err.count("\n") == 1 and "another training process stopped answering for 3 s" in err, err
    assert "MYGPT_DIST_TIMEOUT" in err and time.monotonic() - start < 100
