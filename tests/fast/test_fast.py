"""The fast path computes the exact path's function: same parameters, agreement to float rounding."""

import sys

import pytest
import torch

from mygpt import GPT, get_batch, set_seed
from mygpt.cli import main
from mygpt.config import TrainConfig
from mygpt.errors import MyGPTNotice
from mygpt.fast import (
    bf16_is_native,
    compile_blocks,
    fast_precision,
    hardware,
    plan_compile,
    precision,
    prepare_fast,
)
from mygpt.fast import compile as compile_module
from mygpt.fast.compile import CompileCosts, load_costs, record_costs, should_compile
from mygpt.train import setup_training
from mygpt.train.optim import make_optimizer

VARIANTS = [(norm, position, kv) for norm in ("layer", "rms") for position in ("learned", "rope")
            for kv in (4, 2, 1)]


def _model(norm: str = "layer", position: str = "learned", kv: int = 4) -> GPT:
    set_seed(0)
    return GPT(65, 32, 4, 2, max_seq_len=16, norm_type=norm, position_type=position, num_kv_heads=kv)


def _forward_backward(model: GPT, x: torch.Tensor, y: torch.Tensor):
    model.zero_grad()
    logits, loss = model(x, y)
    loss.backward()
    return logits.detach(), loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("norm,position,kv", VARIANTS)
def test_fast_forward_and_gradients_match_exact(norm, position, kv):
    model = _model(norm, position, kv)
    x, y = torch.randint(0, 65, (3, 16)), torch.randint(0, 65, (3, 16))
    exact = _forward_backward(model, x, y)
    fast = _forward_backward(model.set_fast(True), x, y)
    assert (exact[0] - fast[0]).abs().max() < 1e-4
    assert (exact[1] - fast[1]).abs() < 1e-4
    for name, grad in exact[2].items():
        assert (grad - fast[2][name]).abs().max() < 1e-4, name


def test_fast_handles_shorter_inputs_and_eval_mode():
    model = _model("rms", "rope", 2).eval()
    x = torch.randint(0, 65, (2, 5))
    exact, _ = model(x)
    fast, _ = model.set_fast(True)(x)
    assert (exact - fast).abs().max() < 1e-4


def test_set_fast_keeps_parameters_repr_and_exact_bits():
    model = _model("rms", "rope", 2)
    x = torch.randint(0, 65, (2, 16))
    keys, text = list(model.state_dict()), repr(model)
    before, _ = model(x)
    model.set_fast(True)
    assert list(model.state_dict()) == keys and repr(model) == text
    model.set_fast(False)
    after, _ = model(x)
    assert torch.equal(before, after)


def test_fast_optimizer_is_fused_on_cpu():
    model = _model()
    assert make_optimizer(model, 1e-3, fast=True).defaults["fused"] is True
    assert not make_optimizer(model, 1e-3).defaults["fused"]


def test_prepare_fast_stays_eager_unless_asked():
    model = _model()
    assert prepare_fast(model) is model
    assert model.blocks[0].mha.fast and model.ln_f.fast
    assert model.blocks[0]._compiled_call_impl is None


def _notices(call) -> tuple[object, list[str]]:
    """``call()``'s result and what it said through the library's notices (the CLI shows each as one line)."""
    with pytest.warns() as said:
        result = call()
    return result, [str(w.message) for w in said if issubclass(w.category, MyGPTNotice)]


def test_compile_falls_back_with_one_notice(monkeypatch):
    monkeypatch.setattr(compile_module.shutil, "which", lambda name: None)
    model = _model()
    result, notices = _notices(lambda: prepare_fast(model, compile_model=True))
    assert result is model and model.blocks[0]._compiled_call_impl is None
    assert len(notices) == 1 and "no C++ compiler" in notices[0]


AVX2_ONLY = frozenset({"avx2", "fma", "avx512f"})
AVX512_BF16 = frozenset({"avx2", "avx512f", "avx512_bf16"})


def test_bf16_is_native_only_with_avx512_bf16_or_amx():
    cpu = torch.device("cpu")
    assert not bf16_is_native(cpu, AVX2_ONLY)
    assert bf16_is_native(cpu, AVX512_BF16) and bf16_is_native(cpu, frozenset({"amx_bf16"}))
    assert not bf16_is_native(torch.device("meta"), AVX512_BF16)


def test_fast_precision_falls_back_to_fp32_with_one_notice(recwarn):
    cpu = torch.device("cpu")
    assert fast_precision("bf16", cpu, AVX512_BF16) == "bf16"
    assert fast_precision("fp32", cpu, AVX2_ONLY) == "fp32"
    assert not recwarn.list
    result, notices = _notices(lambda: fast_precision("bf16", cpu, AVX2_ONLY))
    assert result == "fp32" and len(notices) == 1 and "bf16" in notices[0] and "fast trains in fp32" in notices[0]


def test_fast_precision_keeps_bf16_only_where_it_is_faster(monkeypatch, recwarn):
    cpu, model = torch.device("cpu"), _model()
    monkeypatch.setattr(precision, "probe_step_s", lambda m, shape, precision: 1.0 if precision == "bf16" else 2.0)
    assert fast_precision("bf16", cpu, AVX512_BF16, model=model) == "bf16"
    assert not recwarn.list
    monkeypatch.setattr(precision, "probe_step_s", lambda m, shape, precision: 3.0 if precision == "bf16" else 2.0)
    result, notices = _notices(lambda: fast_precision("bf16", cpu, AVX512_BF16, model=model))
    assert result == "fp32" and len(notices) == 1 and "no faster than fp32" in notices[0]


def test_fast_bf16_training_falls_back_where_bf16_is_not_native(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2_ONLY)
    model = _model()
    setup, notices = _notices(lambda: setup_training(model, TrainConfig(
        steps=2, batch_size=2, seq_len=8, precision="bf16", fast=True, compile=False)))
    loss = setup.step(*get_batch(torch.randint(0, 65, (100,)), 2, 8))
    assert loss.dtype == torch.float32 and "trains in fp32" in notices[0]


def test_should_compile_weighs_steps_times_saving_against_compile_time():
    costs = CompileCosts(saving=0.1, cold_s=40.0)
    assert should_compile(20_000, 0.05, costs)[0]          # saves 100 s > 40 s
    assert not should_compile(2_000, 0.05, costs)[0]       # saves 10 s < 40 s
    assert should_compile(2_000, 0.05, CompileCosts(0.1, 40.0, warm_s=5.0))[0]  # warm cache: 10 s > 5 s
    assert not should_compile(10**6, 0.05, CompileCosts(-0.02, 40.0, 1.0))[0]   # compiled is slower
    assert "2000 steps" in should_compile(2_000, 0.05, costs)[1]


def test_plan_compile_reads_measured_costs_and_obeys_the_override(monkeypatch, tmp_path):
    monkeypatch.setenv("MYGPT_CACHE", str(tmp_path))
    model = _model().set_fast(True)
    assert not plan_compile(model, 100, (2, 8), "fp32").compile  # the CPU prior never pays in 100 steps
    plan = plan_compile(model, 100, (2, 8), "fp32")
    record_costs(plan.key, CompileCosts(saving=0.5, cold_s=0.0, warm_s=0.0))
    assert load_costs(plan.key, torch.device("cpu")).saving == 0.5
    assert plan_compile(model, 100, (2, 8), "fp32").compile
    monkeypatch.setenv("MYGPT_COMPILE", "0")
    plan, notices = _notices(lambda: plan_compile(model, 100, (2, 8), "fp32"))
    assert not plan.compile and "MYGPT_COMPILE=0" in notices[-1]
    assert all(p.grad is None for p in model.parameters())  # the probe leaves no gradients behind


@pytest.mark.slow
def test_compiled_block_matches_eager(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    model = _model("rms", "rope", 2).set_fast(True)
    x, y = torch.randint(0, 65, (3, 16)), torch.randint(0, 65, (3, 16))
    eager = _forward_backward(model, x, y)
    compile_blocks(model)
    compiled = _forward_backward(model, x, y)
    assert (eager[0] - compiled[0]).abs().max() < 1e-4
    for name, grad in eager[2].items():
        assert (grad - compiled[2][name]).abs().max() < 1e-4, name
    assert list(model.state_dict()) == list(_model("rms", "rope", 2).state_dict())


def _train_losses(argv: list[str], monkeypatch, capsys) -> list[float]:
    monkeypatch.setattr(sys, "argv", ["mygpt", "train", *argv])
    main()
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("step") and "loss = " in line]
    return [float(line.split("loss = ")[1].split()[0]) for line in lines]


@pytest.mark.slow
def test_fast_training_tracks_exact_losses(shakespeare, tmp_path, monkeypatch, capsys):
    argv = [str(shakespeare), "--steps", "300", "--print-every", "50", "--device", "cpu",
            "--output", str(tmp_path / "m.ckpt")]
    exact = _train_losses(argv, monkeypatch, capsys)
    fast = _train_losses([*argv, "--fast"], monkeypatch, capsys)
    assert len(exact) == len(fast) == 7
    print("exact", exact, "\nfast ", fast)
    assert max(abs(a - b) for a, b in zip(exact, fast)) <= 0.02


def _book_get_batch(data: torch.Tensor, batch_size: int, seq_len: int):
    """The book's batch drawing (Ch.14): one randint, then a stack of slices."""
    starts = torch.randint(0, len(data) - seq_len - 1, (batch_size,))
    return (torch.stack([data[i : i + seq_len] for i in starts]),
            torch.stack([data[i + 1 : i + 1 + seq_len] for i in starts]))


@pytest.mark.parametrize("dtype", [torch.long, torch.int32])
@pytest.mark.parametrize("batch_size,seq_len", [(16, 64), (3, 5), (1, 1)])
def test_get_batch_draws_the_books_batches(dtype, batch_size, seq_len):
    data = torch.randint(0, 65, (1000,)).to(dtype)
    set_seed(42)
    book = [_book_get_batch(data, batch_size, seq_len) for _ in range(3)] + [torch.rand(1)]
    set_seed(42)
    ours = [get_batch(data, batch_size, seq_len) for _ in range(3)] + [torch.rand(1)]
    assert torch.equal(book[-1], ours[-1])  # the generator advanced the same way
    for (bx, by), (x, y) in zip(book[:-1], ours[:-1]):
        assert torch.equal(bx, x) and torch.equal(by, y) and x.dtype == dtype and y.is_contiguous()


def test_cli_fast_bf16_falls_back_in_train_and_generate(monkeypatch, tmp_path, capsys):
    from support.cli import TEXT, TINY

    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2_ONLY)
    monkeypatch.setenv("MYGPT_CACHE", str(tmp_path))
    (tmp_path / "t.txt").write_text(TEXT)
    ckpt = str(tmp_path / "m.ckpt")
    main(["train", str(tmp_path / "t.txt"), *TINY, "--fast", "--precision", "bf16", "--output", ckpt])
    assert "--fast trains in fp32" in capsys.readouterr().err
    main(["generate", "--checkpoint", ckpt, "--prompt", "To", "--max-new-tokens", "5", "--fast",
          "--precision", "bf16", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert out.count("\n") >= 2 and err.count("\n") == 1 and "fp32" in err
