"""Compare captured stdout with the book's goldens, masking what varies by run or machine.

Masks: wall-clock seconds, the ``device:`` line of CLI runs, and the two lines the book marks as
platform-sensitive (float reductions whose last bits depend on the CPU's vector width) unless this CPU
is of the goldens' kind: x86-64 running PyTorch's AVX2 kernels. ``tolerance`` compares the numbers after
``loss =`` and ``val =`` within that absolute distance (the bf16 goldens); all other text must match
exactly.
"""

import difflib
import platform
import re
from pathlib import Path

import torch

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"

_MASKS = [
    (re.compile(r"\(\d+\.\d+s\)"), "(<s>)"),
    (re.compile(r"^(training took: +)\d+\.\d+s$"), r"\1<s>"),
    (re.compile(r"\(\d+\.\d+s to encode\)"), "(<s> to encode)"),
    (re.compile(r"(merges: +|path\): +|encode_corpus: +)\d+\.\d+s"), r"\1<s>"),
    (re.compile(r"^(  BPE trained in |  corpus encoded in )\d+\.\d+s$"), r"\1<s>"),
    (re.compile(r"^device:( +).*$"), r"device:\1<device>"),
]
_PLATFORM_MASKS = [
    (re.compile(r"^(LN\(x\) per-token (means|stds) +\(4 positions\): ).*$"), r"\1<platform>"),
    (re.compile(r"^(row sums: ).*$"), r"\1<platform>"),
]
_NUMBER = re.compile(r"((?:loss|val) = )(-?\d+\.\d+)")


def reference_float_platform() -> bool:
    """True on CPUs that round like the goldens' machine (x86-64 with AVX2 kernels; AVX-512 ones differ)."""
    return platform.machine() in ("x86_64", "AMD64") and torch.backends.cpu.get_cpu_capability() == "AVX2"


def _normalise(text: str) -> list[str]:
    masks = _MASKS if reference_float_platform() else _MASKS + _PLATFORM_MASKS
    lines = text.split("\n")
    for pattern, replacement in masks:
        lines = [pattern.sub(replacement, line) for line in lines]
    return lines


def golden_text(relpath: str) -> str:
    return (GOLDEN_DIR / relpath).read_text(encoding="utf-8")


def assert_matches_golden(actual: str, relpath: str, tolerance: float | None = None) -> None:
    """Fail with a unified diff unless ``actual`` equals the golden after masking."""
    assert_matches_text(actual, golden_text(relpath), relpath, tolerance)


def assert_matches_text(actual: str, expected_text: str, relpath: str, tolerance: float | None = None) -> None:
    """``assert_matches_golden`` for an expected text derived from a golden (named ``relpath``)."""
    expected = _normalise(expected_text)
    got = _normalise(actual)
    if tolerance is not None and len(expected) == len(got):
        for e, g in zip(expected, got):
            assert _NUMBER.sub(r"\1<n>", e) == _NUMBER.sub(r"\1<n>", g), f"{relpath}: {g!r} != {e!r}"
            for (_, ev), (_, gv) in zip(_NUMBER.findall(e), _NUMBER.findall(g)):
                assert abs(float(ev) - float(gv)) <= tolerance, f"{relpath}: {g!r} vs {e!r}"
        return
    if expected != got:
        diff = "\n".join(difflib.unified_diff(expected, got, "golden", "actual", lineterm=""))
        raise AssertionError(f"{relpath} differs:\n{diff}")
