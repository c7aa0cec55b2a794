"""``mygpt serve`` as a real server: concurrent clients, the concurrency limit, disconnects, Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from support.serve import read_events, running_server

pytest.importorskip("uvicorn", reason="mygpt[serve] is not installed")
httpx = pytest.importorskip("httpx", reason="the tests' HTTP client is httpx")

from mygpt.serve.app import create_app
from mygpt.serve.models import Limits, ServedModel, load_models


def _tokens(base: str, **body) -> list[int]:
    with httpx.stream("POST", f"{base}/api/generate", json=body, timeout=60) as response:
        assert response.status_code == 200, response.read()
        return [data["id"] for name, data in read_events(response.iter_lines()) if name == "token"]


def test_concurrent_clients_each_get_their_seeds_text(checkpoints):
    app = create_app(load_models([str(checkpoints / "char.ckpt")], torch.device("cpu")))
    with running_server(app) as base:
        expected = {seed: _tokens(base, prompt="To be", max_new_tokens=40, seed=seed) for seed in range(3)}
        results, errors = {}, []

        def client(n: int) -> None:
            try:
                results[n] = _tokens(base, prompt="To be", max_new_tokens=40, seed=n % 3)
            except Exception as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert not errors and len(results) == 12
    assert all(results[n] == expected[n % 3] for n in results)
    assert app.state.api.generations.running == 0


def test_a_generation_over_the_limit_is_refused_and_a_disconnect_stops_the_generation(checkpoints, monkeypatch):
    drawn = []
    sample = ServedModel.sample

    def counting(self, ids, settings):
        for report in sample(self, ids, settings):
            drawn.append(report["step"])
            yield report

    monkeypatch.setattr(ServedModel, "sample", counting)
    app = create_app(load_models([str(checkpoints / "char.ckpt")], torch.device("cpu")),
                     Limits(max_new_tokens=1_000_000, max_concurrent=1))
    with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        with client.stream("POST", "/api/generate", json={"prompt": "To", "max_new_tokens": 1_000_000}) as first:
            assert any(line.startswith("event: token") for line in first.iter_lines())  # stops at the first
            second = client.post("/api/generate", json={"prompt": "To"})
            assert second.status_code == 429 and "1 generations are running" in second.json()["error"]
        deadline = time.monotonic() + 20  # the first client went away: its generation must end
        while app.state.api.generations.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.api.generations.running == 0
        stopped_at = len(drawn)
        time.sleep(0.3)
        assert len(drawn) == stopped_at < 1_000_000
        assert client.post("/api/generate", json={"prompt": "To", "max_new_tokens": 2}).status_code == 200


def _start(args: list[str], cwd) -> tuple[subprocess.Popen, str]:
    """``python -m mygpt serve ARGS --port 0``; returns the process and the base URL it printed."""
    process = subprocess.Popen([sys.executable, "-m", "mygpt", "serve", *args, "--port", "0"], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in process.stdout:
        if match := re.match(r"serving on (http://\S+)/ \(Ctrl-C stops\)", line):
            return process, match.group(1)
    process.wait(10)
    raise AssertionError(f"mygpt serve did not start: {process.stderr.read()}")


def test_ctrl_c_ends_the_running_generations_and_the_server_cleanly(checkpoints, ctrl_c_reaches_children):
    process, base = _start(["char.ckpt", "bpe.ckpt", "--max-new-tokens", "100000"], checkpoints)
    try:
        assert [m["name"] for m in httpx.get(f"{base}/api/models").json()["models"]] == ["char", "bpe"]
        events = []
        with httpx.stream("POST", f"{base}/api/generate", json={"prompt": "To", "max_new_tokens": 100000},
                          timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 3:
                        process.send_signal(signal.SIGINT)
        assert events[-1]["reason"] == "server stopping" and len(events) < 1000
        assert process.wait(20) == 130
    finally:
        process.kill()
    stderr = process.stderr.read()
    assert stderr == "mygpt: stopped serving\n", stderr
