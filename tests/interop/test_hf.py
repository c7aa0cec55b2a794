"""GPT-2 interop against ``transformers`` itself: tiny random ``GPT2LMHeadModel``s built here, imported,
exported and compared (logits within 1e-4 in fp32, greedy generation token for token). Nothing is
downloaded."""

import json

import pytest
import torch
from support.cli import TEXT, fails_cleanly

from mygpt import GPT
from mygpt.checkpoint import load_checkpoint, save_checkpoint
from mygpt.cli import main
from mygpt.errors import InteropError
from mygpt.generate import generate
from mygpt.interop.end_of_text import EOS_LOGIT
from mygpt.interop.hf import config_from_hf, hf_tokenizer, load_hf, save_hf
from mygpt.tokenizer import BPETokenizer, ByteBPETokenizer, CharTokenizer

transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

TOLERANCE = 1e-4
# (vocab, context, embed_dim, heads, layers, activation)
SHAPES = [(300, 32, 32, 4, 2, "gelu_new"), (280, 16, 24, 3, 1, "gelu"), (320, 48, 64, 2, 3, "gelu_new")]


def _hf_model(vocab, context, embed_dim, heads, layers, activation):
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=vocab, n_positions=context, n_embd=embed_dim, n_head=heads,
                                     n_layer=layers, activation_function=activation, initializer_range=0.2,
                                     bos_token_id=None, eos_token_id=None)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # non-zero biases and norm parameters, so that every tensor's mapping is tested
        for name, param in model.named_parameters():
            if "ln" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    return model


def _hf_dir(tmp_path, shape, weights="safetensors", tokenizer_files="json"):
    """A directory as ``save_pretrained`` writes it, with a byte-level BPE tokenizer."""
    model = _hf_model(*shape)
    directory = tmp_path / "hf"
    if weights == "safetensors":
        model.save_pretrained(directory)
    else:
        directory.mkdir()
        (directory / "config.json").write_text(model.config.to_json_string())
        torch.save(model.state_dict(), directory / "pytorch_model.bin")
    tokenizer = ByteBPETokenizer.from_text(TEXT, 20)
    if tokenizer_files == "json":
        tokenizer.save(str(directory / "tokenizer.json"))
    else:
        tokenizer.tokenizer.model.save(str(directory))
    return model, directory


def _logits(model, ids):
    with torch.no_grad():
        out = model(ids)
    return out.logits if hasattr(out, "logits") else out[0]


@pytest.mark.parametrize("shape", SHAPES)
def test_import_matches_transformers(tmp_path, shape):
    hf, directory = _hf_dir(tmp_path, shape)
    model, _ = load_hf(str(directory))
    ids = torch.randint(0, shape[0], (2, shape[1]), generator=torch.Generator().manual_seed(1))
    expected = _logits(hf, ids)
    assert (_logits(model, ids) - expected).abs().max() < TOLERANCE
    model.set_fast(True)
    assert (_logits(model, ids) - expected).abs().max() < TOLERANCE
    cache, pieces = model.new_cache(), []
    for start in range(0, ids.shape[1], 5):  # the KV cache, a few positions at a time
        pieces.append(model(ids[:, start:start + 5], cache=cache)[0].detach())
    assert (torch.cat(pieces, dim=1) - expected).abs().max() < TOLERANCE


@pytest.mark.parametrize("shape", SHAPES)
def test_greedy_generation_matches_transformers(tmp_path, shape):
    hf, directory = _hf_dir(tmp_path, shape)
    model, _ = load_hf(str(directory))
    prompt = torch.randint(0, shape[0], (1, 4), generator=torch.Generator().manual_seed(2))
    n = shape[1] - 4
    expected = hf.generate(prompt, do_sample=False, max_new_tokens=n, min_new_tokens=n, pad_token_id=0)
    assert len(set(expected[0, 4:].tolist())) > 2  # a varied continuation, not one repeated token
    assert torch.equal(generate(model, prompt, n, top_k=1), expected)
    assert torch.equal(generate(model.set_fast(True), prompt, n, top_k=1, use_cache=True), expected)


def test_import_reads_pytorch_model_bin_and_vocab_merges(tmp_path):
    hf, directory = _hf_dir(tmp_path, SHAPES[0], weights="bin", tokenizer_files="vocab")
    model, tokenizer = load_hf(str(directory))
    ids = torch.randint(0, 300, (1, 20), generator=torch.Generator().manual_seed(3))
    assert (_logits(model, ids) - _logits(hf, ids)).abs().max() < TOLERANCE
    reference = ByteBPETokenizer.from_text(TEXT, 20)
    assert tokenizer.encode(TEXT).tolist() == reference.encode(TEXT).tolist()


def test_imported_checkpoint_stores_no_masks_and_generates(tmp_path, capsys):
    _, directory = _hf_dir(tmp_path, SHAPES[0])
    main(["import-hf", str(directory), "--output", str(tmp_path / "g.ckpt")])
    payload = torch.load(tmp_path / "g.ckpt", weights_only=True)
    assert not any("mask" in key for key in payload["model_state_dict"])
    assert payload["config"]["attn_bias"] is True and payload["config"]["gelu"] == "tanh"
    main(["generate", "--checkpoint", str(tmp_path / "g.ckpt"), "--prompt", "Ünïcode ☃", "--max-new-tokens",
          "5", "--fast"])
    assert "Ünïcode ☃" in capsys.readouterr().out


def _mygpt_model(**options):
    torch.manual_seed(0)
    model = GPT(vocab_size=40, embed_dim=16, num_heads=2, num_layers=2, max_seq_len=16, **options)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return model


@pytest.mark.parametrize("options", [{}, {"attn_bias": True, "gelu": "tanh", "store_masks": False}])
def test_export_reproduces_logits_in_transformers(tmp_path, options):
    model = _mygpt_model(**options).eval()
    tokenizer = CharTokenizer([chr(ord("0") + i) for i in range(40)])
    save_hf(model, tokenizer, str(tmp_path / "out"))
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "out").eval()
    ids = torch.randint(0, 40, (2, 16), generator=torch.Generator().manual_seed(4))
    exported, ours = _logits(hf, ids), _logits(model, ids)
    assert (exported[..., :40] - ours).abs().max() < TOLERANCE
    assert (exported[..., 40] - EOS_LOGIT).abs().max() < 1  # the added end-of-text token: never drawn
    assert (exported.log_softmax(-1)[..., :40] - ours.log_softmax(-1)).abs().max() < TOLERANCE
    back, _ = load_hf(str(tmp_path / "out"))
    assert back.vocab_size == 40 and (_logits(back, ids) - ours).abs().max() < TOLERANCE


@pytest.mark.parametrize("options, reason", [({"norm_type": "rms"}, "RMSNorm"),
                                             ({"position_type": "rope"}, "RoPE"),
                                             ({"num_kv_heads": 1}, "grouped-query")])
def test_export_refuses_what_gpt2_cannot_represent(tmp_path, capsys, options, reason):
    save_checkpoint(_mygpt_model(**options), CharTokenizer(list("abcd")), str(tmp_path / "m.ckpt"))
    fails_cleanly(["export-hf", str(tmp_path / "m.ckpt"), str(tmp_path / "out")], capsys, reason)
    assert not (tmp_path / "out").exists()


def test_export_never_overwrites_a_model(tmp_path, capsys):
    save_checkpoint(_mygpt_model(), CharTokenizer(list("abcd")), str(tmp_path / "m.ckpt"))
    main(["export-hf", str(tmp_path / "m.ckpt"), str(tmp_path / "out")])
    before = (tmp_path / "out" / "model.safetensors").read_bytes()
    capsys.readouterr()
    fails_cleanly(["export-hf", str(tmp_path / "m.ckpt"), str(tmp_path / "out")], capsys, "already holds")
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize("change, fragment", [({"activation_function": "relu"}, "activation_function"),
                                              ({"n_inner": 7}, "n_inner"),
                                              ({"layer_norm_epsilon": 1e-6}, "layer_norm_epsilon"),
                                              ({"model_type": "llama"}, "llama")])
def test_import_refuses_other_configs(change, fragment):
    config = {"vocab_size": 10, "n_positions": 8, "n_embd": 8, "n_head": 2, "n_layer": 1, **change}
    with pytest.raises(InteropError, match=fragment):
        config_from_hf(config)


def test_import_errors_are_one_line(tmp_path, capsys):
    fails_cleanly(["import-hf", str(tmp_path / "missing"), "--output", str(tmp_path / "g.ckpt")], capsys,
                  "not a directory")
    (tmp_path / "empty").mkdir()
    fails_cleanly(["import-hf", str(tmp_path / "empty"), "--output", str(tmp_path / "g.ckpt")], capsys,
                  "config.json")


TEXTS = [TEXT, "To be or not", "a  b\n\nto\n  be  ", "that is the question, question"]


@pytest.mark.parametrize("tokenizer", [CharTokenizer.from_text(TEXT), BPETokenizer.from_corpus(TEXT, 30)],
                         ids=["char", "bpe"])
def test_book_tokenizers_export_with_identical_ids(tmp_path, tokenizer):
    exported = hf_tokenizer(tokenizer)
    for text in TEXTS:
        expected = (tokenizer.encode_corpus(text) if isinstance(tokenizer, BPETokenizer)
                    else tokenizer.encode(text)).tolist()
        assert exported.encode(text).ids == expected
        assert exported.decode(expected) == tokenizer.decode(expected) == text
    torch.manual_seed(0)
    save_checkpoint(GPT(tokenizer.vocab_size, 16, 2, 2, max_seq_len=16), tokenizer, str(tmp_path / "m.ckpt"))
    main(["export-hf", str(tmp_path / "m.ckpt"), str(tmp_path / "out")])
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    assert auto(TEXTS[2])["input_ids"] == exported.encode(TEXTS[2]).ids
    assert auto.decode(auto(TEXTS[2])["input_ids"]) == TEXTS[2]


def test_a_tokenizer_bigger_than_its_model_is_refused(tmp_path, capsys):
    """Its last ids have no row, and the added end-of-text id would be one of them."""
    tokenizer = BPETokenizer.from_corpus(TEXT, 30)
    save_checkpoint(GPT(tokenizer.vocab_size - 4, 16, 2, 1, max_seq_len=16), tokenizer, str(tmp_path / "m.ckpt"))
    for command in (["export-hf", str(tmp_path / "m.ckpt"), str(tmp_path / "out")],
                    ["export-gguf", str(tmp_path / "m.ckpt"), str(tmp_path / "m.gguf")]):
        fails_cleanly(command, capsys, "does not belong to its model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt"]


def test_bytebpe_export_loads_in_transformers(tmp_path):
    tokenizer = ByteBPETokenizer.from_text(TEXT, 30)
    model = GPT(tokenizer.vocab_size, 16, 2, 1, max_seq_len=16)
    save_hf(model, tokenizer, str(tmp_path / "out"))
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    text = "To be, or ☃ not — ünïcode\n"
    assert auto(text)["input_ids"] == tokenizer.encode(text).tolist()
    assert auto.decode(tokenizer.encode(text)) == text
    assert auto.eos_token == "<|endoftext|>"
    assert json.loads((tmp_path / "out" / "config.json").read_text())["eos_token_id"] == \
        tokenizer.tokenizer.token_to_id("<|endoftext|>")


def test_import_finetune_export_round_trip(tmp_path, capsys):
    _, directory = _hf_dir(tmp_path, SHAPES[0])
    (tmp_path / "t.txt").write_text(TEXT)
    main(["import-hf", str(directory), "--output", str(tmp_path / "g.ckpt")])
    main(["train", str(tmp_path / "t.txt"), "--init", str(tmp_path / "g.ckpt"), "--steps", "2", "--batch-size",
          "2", "--seq-len", "32", "--print-every", "1", "--device", "cpu", "--output", str(tmp_path / "t.ckpt")])
    assert "tokenizer:    bytebpe" in capsys.readouterr().out
    main(["export-hf", str(tmp_path / "t.ckpt"), str(tmp_path / "out")])
    tuned, tokenizer = load_checkpoint(str(tmp_path / "t.ckpt"))
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "out").eval()
    ids = tokenizer.encode(TEXT[:60]).unsqueeze(0)
    assert (_logits(hf, ids) - _logits(tuned.eval(), ids)).abs().max() < TOLERANCE
    assert not torch.equal(_logits(hf, ids), _logits(load_hf(str(directory))[0], ids))  # it did train


# Exports every consumer accepts (issue 20): an end-of-text token for every kind, kinds that survive.
BOOK_TOKENIZERS = pytest.mark.parametrize(
    "tokenizer", [CharTokenizer.from_text(TEXT + "é—☃"), BPETokenizer.from_corpus(TEXT + "é—☃", 30)],
    ids=["char", "bpe"])


@BOOK_TOKENIZERS
def test_book_kinds_survive_export_and_import(tmp_path, tokenizer):
    torch.manual_seed(0)
    model = GPT(tokenizer.vocab_size, 16, 2, 2, max_seq_len=16)
    save_checkpoint(model, tokenizer, str(tmp_path / "m.ckpt"))
    main(["export-hf", str(tmp_path / "m.ckpt"), str(tmp_path / "out")])
    main(["import-hf", str(tmp_path / "out"), "--output", str(tmp_path / "back.ckpt")])
    back, back_tokenizer = load_checkpoint(str(tmp_path / "back.ckpt"))
    assert type(back_tokenizer) is type(tokenizer)
    assert torch.load(tmp_path / "back.ckpt", weights_only=True)["tokenizer_kind"] == \
        ("char" if isinstance(tokenizer, CharTokenizer) else "bpe")
    for text in TEXTS + ["é—☃ to"]:
        assert back_tokenizer.encode(text).tolist() == tokenizer.encode(text).tolist()
    assert back.vocab_size == model.vocab_size  # the end-of-text row the export added is dropped again
    ids = tokenizer.encode(TEXT[:16]).unsqueeze(0)
    assert (_logits(back.eval(), ids) - _logits(model.eval(), ids)).abs().max() < TOLERANCE


@BOOK_TOKENIZERS
def test_book_exports_work_with_generate_pipeline_and_lm_eval_calls(tmp_path, tokenizer):
    torch.manual_seed(0)
    model = GPT(tokenizer.vocab_size, 16, 2, 2, max_seq_len=32)
    with torch.no_grad():  # a trained model's final LayerNorm has a bias; the added token's logit uses it
        model.ln_f.bias.normal_(0, 0.1)
    eos = save_hf(model, tokenizer, str(tmp_path / "out"))
    assert eos.added and eos.id == tokenizer.vocab_size and eos.logit == EOS_LOGIT
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "out").eval()
    assert auto.eos_token == auto.pad_token == "<|endoftext|>" and auto.eos_token_id == eos.id
    assert hf.config.eos_token_id == eos.id and hf.generation_config.eos_token_id == eos.id
    # lm-evaluation-harness: an empty context is the end-of-text token; it crashed on None before
    context = [auto.eos_token_id]
    continuation = auto.encode(" to be", add_special_tokens=False)
    assert continuation == tokenizer.encode(" to be").tolist()
    with torch.no_grad():
        scores = hf(torch.tensor([context + continuation])).logits.log_softmax(-1)
    assert torch.isfinite(scores).all()
    prompt = auto("To be", return_tensors="pt")
    out = hf.generate(**prompt, do_sample=False, max_new_tokens=8, min_new_tokens=8)
    ours = generate(model.eval(), prompt["input_ids"], 8, temperature=0)
    assert torch.equal(out, ours)  # the added token is never chosen: greedy decoding is the model's own
    generator = transformers.pipeline("text-generation", model=hf, tokenizer=auto)
    batch = generator(["To be", "that is the"], max_new_tokens=4, do_sample=False, batch_size=2)
    assert [b[0]["generated_text"][:5] for b in batch] == ["To be", "that "]


def test_bytebpe_export_keeps_its_own_end_of_text(tmp_path):
    tokenizer = ByteBPETokenizer.from_text(TEXT, 30)
    eos = save_hf(GPT(tokenizer.vocab_size, 16, 2, 1, max_seq_len=16), tokenizer, str(tmp_path / "out"))
    assert not eos.added and eos.id == tokenizer.tokenizer.token_to_id("<|endoftext|>")
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "out").pad_token == "<|endoftext|>"
    back, back_tokenizer = load_hf(str(tmp_path / "out"))
    assert isinstance(back_tokenizer, ByteBPETokenizer) and back.vocab_size == tokenizer.vocab_size


def test_untrained_layernorm_gets_a_zero_logit_end_of_text(tmp_path):
    model = GPT(20, 16, 2, 1, max_seq_len=8)  # final LayerNorm bias is 0: no row can have a negative logit
    eos = save_hf(model, CharTokenizer([chr(97 + i) for i in range(20)]), str(tmp_path / "out"))
    assert eos.added and eos.logit == 0.0 and "logit 0" in eos.describe()
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "out").eval()
    assert _logits(hf, torch.tensor([[1, 2, 3]]))[..., 20].abs().max() < 1e-6
