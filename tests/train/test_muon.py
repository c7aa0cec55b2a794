"""``optimizer="muon"``: torch's Muon on the blocks' matrices, AdamW on the rest, its batched fast form,
its schedule, and exact resume."""

import copy

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly
from support.training import stop_after

from mygpt import GPT, CharTokenizer, set_seed
from mygpt.checkpoint import read_checkpoint
from mygpt.config import TrainConfig
from mygpt.errors import ConfigError, TrainingStopped
from mygpt.train import make_train_step, optim, setup_training, train
from mygpt.train.optim import BatchedMuon, MuonAdamW, make_optimizer, orthogonalize, split_hidden_matrices
from mygpt.utils import cosine_warmup_lr


def _model(**options) -> GPT:
    set_seed(0)
    return GPT(20, 16, 2, 2, max_seq_len=16, norm_type="rms", position_type="rope", **options)


def _batch(seed: int = 0, vocab: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (4, 16), generator=g), torch.randint(0, vocab, (4, 16), generator=g)


def test_muon_takes_the_blocks_matrices_and_adamw_the_rest():
    model = _model(untied_head=True, qk_norm=True, attn_bias=True)
    hidden, rest = split_hidden_matrices(model)
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in hidden} == {f"blocks.{i}.{m}.weight" for i in range(2) for m in
                                             ("mha.W_Q", "mha.W_K", "mha.W_V", "mha.W_O", "mlp.fc1", "mlp.fc2")}
    assert {"token_embedding.embedding.weight", "lm_head.weight", "ln_f.weight", "blocks.0.mha.W_Q.bias",
            "blocks.0.mha.q_norm.weight", "blocks.1.mlp.fc1.bias"} <= {names[id(p)] for p in rest}
    assert len(hidden) + len(rest) == len(list(model.parameters()))
    for fast, muon_class in ((False, torch.optim.Muon), (True, BatchedMuon)):
        opt = make_optimizer(model, 3e-3, fast=fast, kind="muon", muon_lr=0.05)
        assert isinstance(opt, MuonAdamW) and type(opt.muon) is muon_class
        assert isinstance(opt.adamw, torch.optim.AdamW) and bool(opt.adamw.defaults["fused"]) is fast
        assert [g["lr"] for g in opt.param_groups] == [3e-3, 0.05]  # AdamW first: param_groups[0] is --lr's
    assert isinstance(make_optimizer(model, 1e-3), torch.optim.AdamW)  # the default is the book's


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_batched_muon_steps_as_torchs_muon(monkeypatch, dtype):
    """One step from the same state: in bf16 (torch's precision) the same update; in fp32 torch's to its
    bf16 rounding."""
    monkeypatch.setattr(optim, "ns_dtype", lambda device: dtype)
    model = _model()
    make_train_step(model, make_optimizer(model, 1e-3, kind="muon"))(*_batch(1))  # a momentum to start from
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    updates = []
    for muon_class in (torch.optim.Muon, BatchedMuon):
        copy_ = copy.deepcopy(model)
        hidden, _ = split_hidden_matrices(copy_)
        opt = muon_class(hidden, lr=0.02, weight_decay=0.1)
        for _ in range(2):
            opt.zero_grad()
            copy_(*_batch(2))[1].backward()
            opt.step()
        updates.append({n: p.detach() - before[n] for n, p in copy_.named_parameters() if "blocks" in n and p.ndim == 2})
    for name, expected in updates[0].items():
        error = (updates[1][name] - expected).norm() / expected.norm()
        assert error < (1e-6 if dtype == torch.bfloat16 else 0.1), (name, error)


def test_orthogonalize_in_fp32_is_the_newton_schulz_iteration(monkeypatch):
    """Against the quintic iteration written out in float64, matrix by matrix (tall ones transposed)."""
    monkeypatch.setattr(optim, "ns_dtype", lambda device: torch.float32)
    g = torch.Generator().manual_seed(0)
    mats = [torch.randn(24, 8, generator=g) for _ in range(3)]
    a, b, c = (3.4445, -4.7750, 2.0315)
    got = orthogonalize(mats, (a, b, c), 5, 1e-7)
    for m, out in zip(mats, got):
        x = m.double().T
        x = x / x.norm()
        for _ in range(5):
            gram = x @ x.T
            x = a * x + (b * gram + c * gram @ gram) @ x
        assert out.shape == m.shape and out.dtype == m.dtype
        assert torch.allclose(out.double(), x.T, atol=1e-5)
    singular = torch.linalg.svdvals(got[0])  # roughly orthogonal: singular values near 1
    assert singular.min() > 0.5 and singular.max() < 1.5


def test_cosine_schedule_scales_each_optimizer_from_its_own_peak(tmp_path, capsys):
    tok = CharTokenizer.from_text(TEXT)
    config = TrainConfig(steps=6, batch_size=2, seq_len=8, lr=3e-3, muon_lr=0.05, optimizer="muon",
                         schedule="cosine", warmup=2, print_every=1)
    model = GPT(tok.vocab_size, 8, 2, 1, max_seq_len=8)
    seen = []
    original = MuonAdamW.step

    def step(self):
        seen.append([g["lr"] for g in self.param_groups])
        original(self)

    MuonAdamW.step = step
    try:
        train(model, tok, tok.encode(TEXT), None, config, str(tmp_path / "m.ckpt"))
    finally:
        MuonAdamW.step = original
    assert seen == [[cosine_warmup_lr(s, 2, 6, 3e-3), cosine_warmup_lr(s, 2, 6, 0.05)] for s in range(1, 7)]
    assert "lr = 1.50e-03" in capsys.readouterr().out  # the printed rate is --lr's


@pytest.mark.parametrize("fast, precision, grad_accum, clip", [(False, "fp32", 1, 0.0), (True, "fp32", 2, 1.0),
                                                                (True, "bf16", 1, 1.0), (False, "bf16", 2, 0.5)])
def test_muon_trains_on_every_path(fast, precision, grad_accum, clip):
    model = _model(qk_norm=True, relu_squared=True)
    setup = setup_training(model, TrainConfig(steps=20, batch_size=4, seq_len=16, lr=3e-3, optimizer="muon",
                                              precision=precision, fast=fast, compile=False,
                                              grad_accum=grad_accum, max_grad_norm=clip))
    x, y = _batch(3)
    losses = [setup.step(x, y).item() for _ in range(20)]
    assert losses[-1] < 0.5 * losses[0]


def test_fast_forward_is_the_exact_function_after_muon_steps():
    model = _model(qk_norm=True, relu_squared=True, untied_head=True, logit_softcap=10.0)
    setup = setup_training(model, TrainConfig(steps=5, batch_size=4, seq_len=16, optimizer="muon", fast=True,
                                              compile=False))
    for i in range(5):
        setup.step(*_batch(i))
    x, _ = _batch(9)
    fast = model(x)[0]
    exact = model.set_fast(False)(x)[0]
    assert torch.allclose(fast, exact, atol=1e-4)


def test_muon_resume_is_bit_identical_on_cpu_fp32(tmp_path, capsys):
    tok = CharTokenizer.from_text(TEXT)
    data = tok.encode(TEXT)
    config = TrainConfig(steps=9, batch_size=2, seq_len=8, print_every=1, optimizer="muon", muon_lr=0.03,
                         schedule="cosine", warmup=2, max_grad_norm=1.0, checkpoint_every=4)

    def model():
        set_seed(0)
        return GPT(tok.vocab_size, 8, 2, 1, max_seq_len=16, dropout=0.1, qk_norm=True)

    whole = model()
    train(whole, tok, data, None, config, str(tmp_path / "whole.ckpt"))
    expected = capsys.readouterr().out.splitlines()
    with pytest.raises(TrainingStopped):
        stop_after(5, lambda: train(model(), tok, data, None, config, str(tmp_path / "half.ckpt")))
    printed = capsys.readouterr().out.splitlines()
    state = read_checkpoint(str(tmp_path / "half.ckpt"))
    assert set(state["training_state"]["optimizer_state_dict"]) == {"adamw", "muon"}
    resumed = model()
    train(resumed, tok, data, None, config, str(tmp_path / "half.ckpt"), resume=state)
    assert printed + capsys.readouterr().out.splitlines() == expected
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))


def test_resume_refuses_another_optimizer(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    data = tok.encode(TEXT)
    path = str(tmp_path / "m.ckpt")
    train(GPT(tok.vocab_size, 8, 2, 1, max_seq_len=8), tok, data, None,
          TrainConfig(steps=2, batch_size=2, seq_len=8, optimizer="muon"), path)
    for change, message in (({"optimizer": "adamw"}, "optimizer is muon in the checkpoint's run but adamw"),
                            ({"optimizer": "muon", "muon_lr": 0.05}, "muon_lr is 0.02 in the checkpoint's")):
        with pytest.raises(ConfigError, match=message):
            train(GPT(tok.vocab_size, 8, 2, 1, max_seq_len=8), tok, data, None,
                  TrainConfig(steps=4, batch_size=2, seq_len=8, **change), path, resume=read_checkpoint(path))


def test_cli_optimizer_flags_and_their_mistakes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    from mygpt.cli import main

    main(["train", "text.txt", *TINY, "--optimizer", "muon", "--muon-lr", "0.03", "--output", "m.ckpt"])
    out = capsys.readouterr().out
    assert "options:      optimizer=muon muon_lr=0.03" in out
    saved = read_checkpoint("m.ckpt")["training_state"]["train_config"]
    assert (saved["optimizer"], saved["muon_lr"]) == ("muon", 0.03)
    fails_cleanly(["train", "text.txt", *TINY, "--muon-lr", "0"], capsys, "--muon-lr must be a positive number")
    fails_cleanly(["train", "text.txt", *TINY, "--output", "m.ckpt", "--resume", "m.ckpt", "--steps", "4"],
                  capsys, "--optimizer is muon in the checkpoint's run but adamw here")
    with pytest.raises(SystemExit) as exit_info:  # a choice of the flag: argparse's usage line and exit 2
        main(["train", "text.txt", *TINY, "--optimizer", "sgd"])
    assert exit_info.value.code == 2 and "invalid choice: 'sgd'" in capsys.readouterr().err
