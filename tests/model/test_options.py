"""The speedruns' model options (QK-norm, ReLU², untied head, zero-init, logit soft-cap): opt-in, the
book's model untouched when off, the same function on every path, saved in checkpoints and refused on a
contradicting resume."""

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt import GPT, CharTokenizer, generate, load_checkpoint, save_checkpoint, set_seed
from mygpt.checkpoint import read_checkpoint
from mygpt.config import GPTConfig, TrainConfig
from mygpt.errors import ConfigError
from mygpt.mlp import ReLUSquared
from mygpt.train import setup_training, train
from mygpt.train.memory import count_parameters

OPTIONS = [{"qk_norm": True}, {"relu_squared": True}, {"untied_head": True}, {"zero_init": True},
           {"logit_softcap": 5.0}, {"qk_norm": True, "relu_squared": True, "untied_head": True, "zero_init": True,
                                    "logit_softcap": 15.0}]


def _model(vocab: int = 12, **options) -> GPT:
    set_seed(0)
    return GPT(vocab, 16, 2, 2, max_seq_len=16, norm_type="rms", position_type="rope", **options)


def test_off_by_default_the_books_model_is_unchanged():
    set_seed(0)
    book = GPT(12, 16, 2, 2, max_seq_len=16)
    set_seed(0)
    off = GPT.from_config(GPTConfig(12, 16, 2, 2, 16, qk_norm=False, relu_squared=False, untied_head=False,
                                    zero_init=False, logit_softcap=0.0))
    assert list(book.state_dict()) == list(off.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(book.state_dict().values(), off.state_dict().values()))


@pytest.mark.parametrize("options", OPTIONS)
def test_each_option_builds_what_it_says(options):
    model = _model(**options)
    assert model.num_params() == count_parameters(model.config)
    keys = set(model.state_dict())
    assert ("blocks.0.mha.q_norm.weight" in keys) is options.get("qk_norm", False)
    assert ("lm_head.weight" in keys) is options.get("untied_head", False)
    assert isinstance(model.blocks[0].mlp.act, ReLUSquared) is options.get("relu_squared", False)
    if options.get("zero_init"):
        assert all(not b.mha.W_O.weight.any() and not b.mlp.fc2.weight.any() for b in model.blocks)
    ids = torch.randint(0, 12, (2, 16), generator=torch.Generator().manual_seed(1))
    logits, _ = model(ids)
    if options.get("logit_softcap"):
        assert logits.abs().max() < options["logit_softcap"]
    if options.get("zero_init") and options.get("untied_head"):
        assert not logits.any()  # a zero head: every token equally likely at the start


def test_relu_squared_and_softcap_compute_their_formulas():
    x = torch.linspace(-3, 3, 13)
    assert torch.equal(ReLUSquared()(x), torch.clamp(x, min=0) ** 2)
    plain, capped = _model(), _model(logit_softcap=2.0)
    ids = torch.randint(0, 12, (1, 8), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(capped(ids)[0], 2.0 * torch.tanh(plain(ids)[0] / 2.0), atol=1e-6)


@pytest.mark.parametrize("options", OPTIONS)
def test_fast_path_is_the_same_function_after_training(options):
    model = _model(**options)
    setup = setup_training(model, TrainConfig(steps=5, batch_size=4, seq_len=16, lr=1e-2, fast=True,
                                              compile=False))
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        setup.step(torch.randint(0, 12, (4, 16), generator=g), torch.randint(0, 12, (4, 16), generator=g))
    ids = torch.randint(0, 12, (3, 16), generator=g)
    fast = model(ids)[0]
    with torch.no_grad():
        fast_no_grad = model(ids)[0]  # the sampling path's kept weight copies
    exact = model.set_fast(False)(ids)[0]
    assert torch.allclose(fast, exact, atol=1e-4) and torch.allclose(fast_no_grad, exact, atol=1e-4)


@pytest.mark.parametrize("fast", [False, True])
def test_kv_cache_sampling_equals_recomputation(fast):
    model = _model(qk_norm=True, relu_squared=True, untied_head=True, logit_softcap=3.0).set_fast(fast).eval()
    prompt = torch.tensor([[1, 2, 3]])
    set_seed(0)
    cached = generate(model, prompt, 20, use_cache=True)
    set_seed(0)
    assert torch.equal(cached, generate(model, prompt, 20, use_cache=False))


@pytest.mark.parametrize("options", OPTIONS)
def test_options_are_saved_and_reloaded(tmp_path, options):
    tokenizer = CharTokenizer(list("abcdefghijkl"))
    model = _model(**options)
    save_checkpoint(model, tokenizer, str(tmp_path / "m.ckpt"))
    config = read_checkpoint(str(tmp_path / "m.ckpt"))["config"]
    assert {k: config[k] for k in options} == options
    loaded, _ = load_checkpoint(str(tmp_path / "m.ckpt"))
    assert loaded.config == model.config
    ids = torch.randint(0, 12, (2, 16), generator=torch.Generator().manual_seed(2))
    assert torch.equal(loaded(ids)[0], model(ids)[0])


def test_book_checkpoints_keep_their_config_keys(tmp_path):
    save_checkpoint(_model(), CharTokenizer(list("abcdefghijkl")), str(tmp_path / "m.ckpt"))
    assert set(read_checkpoint(str(tmp_path / "m.ckpt"))["config"]) == {
        "vocab_size", "embed_dim", "num_heads", "num_kv_heads", "num_layers", "max_seq_len", "norm_type",
        "position_type", "tokenizer_kind"}


@pytest.mark.parametrize("saved, given", [({"qk_norm": True}, {}), ({}, {"relu_squared": True}),
                                          ({"logit_softcap": 15.0}, {"logit_softcap": 10.0}),
                                          ({"zero_init": True}, {}), ({}, {"untied_head": True})])
def test_resume_refuses_a_contradicting_option(tmp_path, saved, given):
    tok = CharTokenizer.from_text(TEXT)
    data, path = tok.encode(TEXT), str(tmp_path / "m.ckpt")
    train(GPT(tok.vocab_size, 8, 2, 1, max_seq_len=8, **saved), tok, data, None,
          TrainConfig(steps=2, batch_size=2, seq_len=8), path)
    name = next(iter({**saved, **given}))
    with pytest.raises(ConfigError, match=f"{name} is .* in the checkpoint's run but"):
        train(GPT(tok.vocab_size, 8, 2, 1, max_seq_len=8, **given), tok, data, None,
              TrainConfig(steps=4, batch_size=2, seq_len=8), path, resume=read_checkpoint(path))


def test_cli_flags_reach_the_model_and_resume_refuses_others(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    from mygpt.cli import main

    main(["train", "text.txt", *TINY, "--qk-norm", "--relu-squared", "--untied-head", "--zero-init",
          "--logit-softcap", "20", "--output", "m.ckpt"])
    assert ("options:      qk_norm=True relu_squared=True untied_head=True zero_init=True logit_softcap=20.0"
            in capsys.readouterr().out)
    model, _ = load_checkpoint("m.ckpt")
    assert (model.config.qk_norm, model.config.relu_squared, model.config.untied_head, model.config.zero_init,
            model.config.logit_softcap) == (True, True, True, True, 20.0)
    fails_cleanly(["train", "text.txt", *TINY, "--output", "m.ckpt", "--resume", "m.ckpt", "--steps", "4"],
                  capsys, "--qk-norm is True in the checkpoint's run but False here")
    fails_cleanly(["train", "text.txt", *TINY, "--logit-softcap", "-1"], capsys,
                  "--logit-softcap must be 0 (off) or a positive number")
    fails_cleanly(["train", "text.txt", *TINY, "--init", "m.ckpt", "--logit-softcap", "5"], capsys,
                  "--logit-softcap 5.0 conflicts with --init m.ckpt")


@pytest.mark.parametrize("options, reason", [({"qk_norm": True}, "QK-norm"), ({"relu_squared": True}, "ReLU"),
                                             ({"untied_head": True}, "untied head"),
                                             ({"logit_softcap": 5.0}, "soft-cap")])
def test_export_hf_refuses_the_options_gpt2_lacks(tmp_path, capsys, options, reason):
    pytest.importorskip("safetensors")
    set_seed(0)
    save_checkpoint(GPT(4, 8, 2, 1, max_seq_len=8, **options), CharTokenizer(list("abcd")), str(tmp_path / "m.ckpt"))
    fails_cleanly(["export-hf", str(tmp_path / "m.ckpt"), str(tmp_path / "out")], capsys, reason)
    assert not (tmp_path / "out").exists()
