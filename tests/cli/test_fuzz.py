"""Every file or folder argument of every command, fed what users and accidents feed it: missing, empty,
a folder for a file (or a file for a folder), random bytes, a valid file cut short, a valid file of
another kind, and for outputs a file that is not mygpt's. Each must end with exit status 2, one line on
stderr, no traceback, and every file as it was (nothing written, nothing replaced).

The commands and their arguments come from the parser itself (``cli._build_parser``): a new command's
path argument fails ``test_every_path_argument_is_classified`` until it is added to ``PATHS`` below,
and from then on it is fuzzed like the others.
"""

import argparse
import random
import shutil
from pathlib import Path

import pytest
from support.cli import TEXT, TINY

from mygpt.cli import COMMANDS, _build_parser, main

# (command, dest) -> what the argument names. Inputs: "text" (a UTF-8 text file), "text-or-prepared"
# (also a `mygpt prepare` folder), "inputs" (text files or folders), "checkpoint", "hf-folder",
# "metrics" (a run: its checkpoint or its metrics file). Outputs: "checkpoint-out", "folder-out",
# "figure-out", "gguf-out".
PATHS = {
    ("train", "text_file"): "text-or-prepared", ("train", "output"): "checkpoint-out",
    ("train", "resume"): "checkpoint", ("train", "init"): "checkpoint",
    ("generate", "checkpoint"): "checkpoint",
    ("prepare", "inputs"): "inputs", ("prepare", "out"): "folder-out",
    ("import-hf", "directory"): "hf-folder", ("import-hf", "output"): "checkpoint-out",
    ("export-hf", "checkpoint"): "checkpoint", ("export-hf", "directory"): "folder-out",
    ("export-gguf", "checkpoint"): "checkpoint", ("export-gguf", "output"): "gguf-out",
    ("eval", "file"): "text", ("eval", "checkpoint"): "checkpoint",
    ("info", "checkpoint"): "checkpoint",
    ("plot", "runs"): "metrics", ("plot", "out"): "figure-out",
    ("attention", "checkpoint"): "checkpoint", ("attention", "out"): "figure-out",
    ("serve", "checkpoints"): "checkpoint",
}
# String arguments that are not paths.
NOT_PATHS = {("generate", "prompt"), ("generate", "stop"), ("attention", "prompt"), ("plot", "label"),
             ("serve", "host")}

# A valid invocation of each argument's command with the argument as X (everything else valid).
X = "<X>"
GEN = ["--device", "cpu"]
INVOCATIONS = {
    ("train", "text_file"): ["train", X, *TINY, "--output", "new.ckpt"],
    ("train", "output"): ["train", "text.txt", *TINY, "--output", X],
    ("train", "resume"): ["train", "text.txt", *TINY, "--steps", "4", "--output", "new.ckpt", "--resume", X],
    ("train", "init"): ["train", "text.txt", *TINY, "--output", "new.ckpt", "--init", X],
    ("generate", "checkpoint"): ["generate", "--checkpoint", X, "--prompt", "To", "--max-new-tokens", "2", *GEN],
    ("prepare", "inputs"): ["prepare", X, "--out", "new", "--workers", "1"],
    ("prepare", "out"): ["prepare", "text.txt", "--out", X, "--workers", "1"],
    ("import-hf", "directory"): ["import-hf", X, "--output", "new.ckpt"],
    ("import-hf", "output"): ["import-hf", "hf", "--output", X],
    ("export-hf", "checkpoint"): ["export-hf", X, "newhf"],
    ("export-hf", "directory"): ["export-hf", "m.ckpt", X],
    ("export-gguf", "checkpoint"): ["export-gguf", X, "new.gguf"],
    ("export-gguf", "output"): ["export-gguf", "m.ckpt", X],
    ("eval", "file"): ["eval", X, "--checkpoint", "m.ckpt", *GEN],
    ("eval", "checkpoint"): ["eval", "text.txt", "--checkpoint", X, *GEN],
    ("info", "checkpoint"): ["info", X],
    ("plot", "runs"): ["plot", X, "--out", "new.png"],
    ("plot", "out"): ["plot", "m.ckpt", "--out", X],
    ("attention", "checkpoint"): ["attention", "--checkpoint", X, "--prompt", "To", "--out", "new.png"],
    ("attention", "out"): ["attention", "--checkpoint", "m.ckpt", "--prompt", "To", "--out", X],
    ("serve", "checkpoints"): ["serve", "m.ckpt", X, "--port", "0", *GEN],  # refused before it listens
}
NEEDS = {"import-hf": "safetensors", "export-hf": "safetensors", "export-gguf": "gguf", "plot": "matplotlib",
         "attention": "matplotlib", "serve": "starlette"}


def _random_bytes(n: int = 2000) -> bytes:
    return b"\xff\xfe\x80" + random.Random(0).randbytes(n)


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return path.name


def _dir(path: Path) -> str:
    path.mkdir()
    return path.name


def _hf_copy(w: Path, name: str, file: str, data: bytes) -> str:
    shutil.copytree(w / "hf", w / name)
    (w / name / file).write_bytes(data)
    return name


# kind -> {variant: make(workdir) -> the argument}. Each must be refused in one line.
VARIANTS = {
    "text": {
        "missing": lambda w: "missing.txt",
        "empty": lambda w: _write(w / "empty.txt", b""),
        "directory": lambda w: _dir(w / "folder"),
        "random bytes": lambda w: _write(w / "random.txt", _random_bytes()),
        "truncated": lambda w: _write(w / "cut.txt", (TEXT + "é").encode()[:-1]),
        "another kind": lambda w: "m.ckpt",
    },
    "checkpoint": {
        "missing": lambda w: "missing.ckpt",
        "empty": lambda w: _write(w / "empty.ckpt", b""),
        "directory": lambda w: _dir(w / "folder.ckpt"),
        "random bytes": lambda w: _write(w / "random.ckpt", _random_bytes()),
        "truncated": lambda w: _write(w / "cut.ckpt", (w / "m.ckpt").read_bytes()[:1500]),
        "another kind": lambda w: "text.txt",
        "metrics file": lambda w: "m.metrics.jsonl",
    },
    "hf-folder": {
        "missing": lambda w: "missing",
        "empty": lambda w: _dir(w / "emptyhf"),
        "a file": lambda w: _write(w / "random.bin", _random_bytes()),
        "random config.json": lambda w: _hf_copy(w, "h1", "config.json", _random_bytes()),
        "truncated weights": lambda w: _hf_copy(w, "h2", "model.safetensors",
                                                (w / "hf" / "model.safetensors").read_bytes()[:200]),
        "truncated tokenizer": lambda w: _hf_copy(w, "h3", "tokenizer.json",
                                                  (w / "hf" / "tokenizer.json").read_bytes()[:40]),
        "another kind": lambda w: "prep",
    },
    "metrics": {
        "missing": lambda w: "missing.metrics.jsonl",
        "empty": lambda w: _write(w / "empty.metrics.jsonl", b""),
        "directory": lambda w: _dir(w / "folder"),
        "random bytes": lambda w: _write(w / "random.metrics.jsonl", _random_bytes()),
        "truncated": lambda w: _write(w / "cut.metrics.jsonl", (w / "m.metrics.jsonl").read_bytes()[:10]),
        "another kind": lambda w: _write(w / "text.metrics.jsonl", TEXT.encode()),
        "wrong types": lambda w: _write(w / "bad.metrics.jsonl", b'{"step": "one", "loss": 1}\n{"step": 2}\n'),
    },
    "checkpoint-out": {
        "foreign file": lambda w: "notes.txt",
        "empty file": lambda w: _write(w / "empty.ckpt", b""),
        "an input": lambda w: "text.txt",
        "directory": lambda w: _dir(w / "folder"),
        "missing folder": lambda w: "nowhere/new.ckpt",
        "foreign lock": lambda w: (_write(w / "locked.ckpt.lock", b"mine"), "locked.ckpt")[1],
    },
    "folder-out": {
        "a file": lambda w: "notes.txt",
        "a full folder": lambda w: "hf",
        "missing parent": lambda w: "nowhere/new",
    },
    "figure-out": {
        "foreign figure": lambda w: _write(w / "photo.png", b"\x89PNG\r\n\x1a\n" + _random_bytes()),
        "not a figure name": lambda w: "m.ckpt",
        "directory": lambda w: _dir(w / "folder.png"),
        "missing folder": lambda w: "nowhere/new.png",
        "foreign lock": lambda w: (_write(w / "locked.png.lock", b"mine"), "locked.png")[1],
    },
}
VARIANTS["gguf-out"] = {
    "foreign file": lambda w: "notes.txt",
    "empty file": lambda w: _write(w / "empty.gguf", b""),
    "foreign GGUF-looking file": lambda w: _write(w / "other.gguf", b"GGUF" + _random_bytes()),
    "the checkpoint it exports": lambda w: "m.ckpt",
    "directory": lambda w: _dir(w / "folder.gguf"),
    "missing folder": lambda w: "nowhere/new.gguf",
    "foreign lock": lambda w: (_write(w / "locked.gguf.lock", b"mine"), "locked.gguf")[1],
}
VARIANTS["text-or-prepared"] = {**VARIANTS["text"], "empty folder": lambda w: _dir(w / "emptyprep")}
VARIANTS["inputs"] = {**VARIANTS["text"]}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _free_arguments(parser: argparse.ArgumentParser) -> set[tuple[str, str]]:
    """Every argument of every command that takes a value other than a number or a fixed choice: a path
    (whatever its ``type``: str, ``pathlib.Path``, a checking function) or a free string."""
    found = set()
    for command, sub in _subparsers(parser).items():
        for action in sub._actions:
            if action.nargs == 0 or isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            if action.choices is None and action.type not in (int, float):
                found.add((command, action.dest))
    return found


def _unclassified(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    return sorted(_free_arguments(parser) - set(PATHS) - NOT_PATHS)


def test_every_path_argument_is_classified():
    parser = _build_parser()
    assert set(_subparsers(parser)) == set(COMMANDS), "a command is registered outside COMMANDS"
    unclassified = _unclassified(parser)
    assert not unclassified, (f"classify these arguments in tests/cli/test_fuzz.py (PATHS with an invocation in "
                              f"INVOCATIONS, or NOT_PATHS): {unclassified}")
    assert set(PATHS) | NOT_PATHS <= _free_arguments(parser), "PATHS or NOT_PATHS names an argument the parser lacks"
    assert set(INVOCATIONS) == set(PATHS) and set(PATHS.values()) <= set(VARIANTS)


def test_a_new_commands_file_argument_is_caught():
    """The check above is not blind: a command added tomorrow with a file argument of any type fails it."""
    parser = _build_parser()
    new = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).add_parser("tomorrow")
    new.add_argument("model", metavar="CHECKPOINT")
    new.add_argument("--out", type=Path)
    new.add_argument("--count", type=int)
    new.add_argument("--mode", choices=["a", "b"])
    new.add_argument("--quiet", action="store_true")
    assert _unclassified(parser) == [("tomorrow", "model"), ("tomorrow", "out")]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Valid files of every kind: a text, a checkpoint and its metrics, a Hugging Face folder, a prepared folder."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "text.txt").write_text(TEXT, encoding="utf-8")
    (root / "notes.txt").write_text("my notes")
    main(["train", str(root / "text.txt"), *TINY, "--output", str(root / "m.ckpt")])
    main(["prepare", str(root / "text.txt"), "--out", str(root / "prep"), "--workers", "1"])
    try:
        main(["export-hf", str(root / "m.ckpt"), str(root / "hf")])
    except SystemExit:  # no safetensors: the HF cases are skipped
        pass
    return root


def _snapshot(directory: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(directory)): None if p.is_dir() else p.read_bytes()
            for p in sorted(directory.rglob("*"))}


CASES = [(command, dest, variant) for (command, dest), kind in PATHS.items() for variant in VARIANTS[kind]]


@pytest.mark.parametrize("command, dest, variant", CASES, ids=[f"{c} {d}: {v}" for c, d, v in CASES])
def test_bad_paths_are_one_line_and_change_nothing(library, tmp_path, monkeypatch, capsys, command, dest, variant):
    if command in NEEDS:
        pytest.importorskip(NEEDS[command])
    work = tmp_path / "w"
    shutil.copytree(library, work)
    monkeypatch.chdir(work)
    argument = VARIANTS[PATHS[command, dest]][variant](work)
    before = _snapshot(work)
    argv = [argument if a == X else a for a in INVOCATIONS[command, dest]]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, (argv, err)
    assert err.startswith("mygpt: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert _snapshot(work) == before, "a file was written, replaced or left behind"
