"""``mygpt bench --quick --json``: the report's structure (tiny models; says nothing about speed)."""

import json
import sys

import pytest

from mygpt.bench.throughput import format_table
from mygpt.cli import main


def test_bench_quick_json(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mygpt", "bench", "--quick", "--json"])
    main()
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"train", "generate", "hf_generate", "machine"}
    assert [r["path"] for r in result["train"]] == ["exact", "fast", "fast+bf16"]
    for row in result["train"]:
        assert set(row) == {"config", "path", "precision", "tokens_per_s", "spread", "vs_exact", "vs_exact_range",
                            "vs_fast", "peak_fraction"}
        assert row["tokens_per_s"] > 0 and row["spread"] >= 0 and row["peak_fraction"] > 0
    assert [(r["config"], r["path"]) for r in result["generate"]] == [
        ("tiny", "exact"), ("tiny", "fast"), ("tiny-rope-crop", "exact"), ("tiny-rope-crop", "fast")]
    assert all(set(r) == {"config", "path", "tokens_per_s"} and r["tokens_per_s"] > 0
               for r in result["generate"])
    assert result["machine"]["fp32_matmul_flops"] > 0
    assert [r["path"] for r in result["hf_generate"]] in ([], ["mygpt-fast", "hf", "ratio"])
    assert all(r["tokens_per_s"] > 0 and r["spread"] >= 0 for r in result["hf_generate"])
    table = format_table(result)
    assert "fast+bf16" in table and "tiny-rope-crop" in table and "Hugging Face" in table


def test_bench_hf_only(monkeypatch, capsys):
    pytest.importorskip("transformers")
    monkeypatch.setattr(sys, "argv", ["mygpt", "bench", "--quick", "--hf-only"])
    main()
    table = capsys.readouterr().out
    assert "gpt2-tiny     ratio" in table and "training" not in table
