"""``mygpt prepare``'s worker processes end with it, however it ends: Ctrl-C (SIGINT to the whole process
group, as a terminal sends it), SIGTERM, or ``kill -9``; no worker prints a traceback."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("signals")
    words = [f"w{i}x{i % 7}" for i in range(5000)]
    (directory / "big.txt").write_text((" ".join(words) + "\n") * 400, encoding="utf-8")  # ~14 MB
    return directory


@pytest.mark.parametrize("how, status", [("SIGINT", 130), ("SIGTERM", 143), ("SIGKILL", -9)])
def test_workers_end_with_their_parent(corpus, how, status, ctrl_c_reaches_children):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = corpus / f"out-{how}"
    proc = subprocess.Popen([sys.executable, "-m", "mygpt", "prepare", "big.txt", "--out", out.name,
                             "--tokenizer", "bpe", "--num-merges", "40", "--bpe-train-bytes", "50000",
                             "--workers", "2"], cwd=corpus, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(workers := _children(proc.pid)) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    time.sleep(0.5)  # the workers are encoding
    if how == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    else:
        os.kill(proc.pid, getattr(signal, how))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert not out.exists()
    if how != "SIGKILL":
        assert err.count("\n") == 1 and "nothing was written" in err, err
        assert not list(corpus.glob(f".{out.name}.*")) and not (corpus / f"{out.name}.lock").exists()
