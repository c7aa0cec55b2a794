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
    assert set(result) == {"train", "generate", "hf_generate", "decoding", "machine"}
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
    runtimes = [r["runtime"] for r in result["decoding"]]
    assert runtimes[:3] == ["mygpt --fast", "mygpt --fast --weights bf16", "mygpt --fast --weights int8"]
    assert set(runtimes[3:]) <= {"hf generate", "llama.cpp"}
    assert all(r["tokens_per_s"] > 0 and r["cpu"] and r["threads"] >= 1 for r in result["decoding"])
    table = format_table(result)
    assert "fast+bf16" in table and "tiny-rope-crop" in table and "Hugging Face" in table
    assert "decoding, batch 1" in table and "cpu: " in table


def test_bench_hf_only(monkeypatch, capsys):
    pytest.importorskip("transformers")
    monkeypatch.setattr(sys, "argv", ["mygpt", "bench", "--quick", "--hf-only"])
    main()
    table = capsys.readouterr().out
    assert "gpt2-tiny     ratio" in table and "training" not in table


def test_bench_decoding_only_has_all_three_runtimes_where_installed(monkeypatch, capsys):
    pytest.importorskip("transformers")
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'mygpt[llama]')")
    monkeypatch.setattr(sys, "argv", ["mygpt", "bench", "--quick", "--decoding-only", "--json"])
    main()
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"decoding", "machine"}
    rows = {r["runtime"]: r for r in result["decoding"]}
    assert {"mygpt --fast", "hf generate", "llama.cpp"} <= set(rows)
    assert rows["mygpt --fast"]["vs_llama_cpp"] > 0 and rows["mygpt --fast"]["vs_hf"] > 0
