"""Property tests: every loader, fed random bytes or any truncation of a valid file, either reads it or
raises the project's own error (a ``MyGPTError``); never anything else, never a crash."""

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.cli import TEXT, TINY

from mygpt.checkpoint import load_checkpoint
from mygpt.cli import main
from mygpt.data.shards import load_prepared
from mygpt.errors import MyGPTError
from mygpt.fast import compile as compile_module
from mygpt.train.metrics import read_metrics_file

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Path:
    """One valid file of each kind mygpt reads."""
    root = tmp_path_factory.mktemp("valid")
    (root / "text.txt").write_text(TEXT)
    main(["train", str(root / "text.txt"), *TINY, "--output", str(root / "m.ckpt")])
    main(["prepare", str(root / "text.txt"), "--out", str(root / "prep"), "--val-split", "0.2", "--workers", "1"])
    try:
        main(["export-hf", str(root / "m.ckpt"), str(root / "hf")])
    except SystemExit:
        pass
    return root


def _mutations(data: bytes):
    """Random bytes, or the valid ``data`` cut at any point, or with one byte changed."""
    return st.one_of(
        st.binary(max_size=3000),
        st.integers(0, len(data)).map(lambda n: data[:n]),
        st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)).map(
            lambda c: data[:c[0]] + bytes([c[1]]) + data[c[0] + 1:]))


def _copy_with(source: Path, folder: Path, name: str, blob: bytes) -> Path:
    """A fresh copy of the folder ``source`` at ``folder``, its file ``name`` replaced by ``blob``."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder)
    (folder / name).write_bytes(blob)
    return folder


def _only_our_errors(read) -> None:
    try:
        read()
    except MyGPTError:
        pass


def test_checkpoints(valid, tmp_path):
    data = (valid / "m.ckpt").read_bytes()

    @SETTINGS
    @given(_mutations(data))
    def check(blob):
        path = tmp_path / "c.ckpt"
        path.write_bytes(blob)
        _only_our_errors(lambda: load_checkpoint(str(path)))

    check()


def test_metrics_files(valid, tmp_path):
    data = (valid / "m.metrics.jsonl").read_bytes()

    @SETTINGS
    @given(st.one_of(_mutations(data), st.lists(st.dictionaries(st.sampled_from(["step", "loss", "lr", "metrics_of"]),
                                                                st.one_of(st.none(), st.integers(), st.floats(),
                                                                          st.text(max_size=3), st.booleans())),
                                                max_size=4).map(lambda rs: "\n".join(map(json.dumps, rs)).encode())))
    def check(blob):
        path = tmp_path / "r.metrics.jsonl"
        path.write_bytes(blob)
        _only_our_errors(lambda: read_metrics_file(str(path)))

    check()


@pytest.mark.parametrize("name", ["meta.json", "tokenizer.json", "train-00000.bin"])
def test_prepared_folders(valid, tmp_path, name):
    data = (valid / "prep" / name).read_bytes()

    @SETTINGS
    @given(_mutations(data))
    def check(blob):
        folder = _copy_with(valid / "prep", tmp_path / "p", name, blob)
        _only_our_errors(lambda: load_prepared(folder))

    check()


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "model.safetensors"])
def test_hugging_face_folders(valid, tmp_path, name):
    if not (valid / "hf").exists():
        pytest.skip("needs mygpt[hf]")
    from mygpt.interop.hf import load_hf

    data = (valid / "hf" / name).read_bytes()

    @SETTINGS
    @given(_mutations(data))
    def check(blob):
        folder = _copy_with(valid / "hf", tmp_path / "hf", name, blob)
        _only_our_errors(lambda: load_hf(str(folder)))

    check()


def test_the_compile_cost_ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("MYGPT_CACHE", str(tmp_path))
    data = json.dumps({"k": {"saving": 0.1, "cold_s": 40.0, "warm_s": None}}).encode()

    @SETTINGS
    @given(_mutations(data))
    def check(blob):
        (tmp_path / "compile-costs.json").write_bytes(blob)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            costs = compile_module.load_costs("k", torch.device("cpu"))
        assert isinstance(costs.saving, float | int) and isinstance(costs.cold_s, float | int)

    check()
