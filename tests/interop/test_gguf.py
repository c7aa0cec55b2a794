"""``mygpt export-gguf``: the file's contents read back with ``gguf``, its refusals, and, where
``llama-cpp-python`` is installed (the ``llama`` extra, built from source), llama.cpp itself loading
the file and producing mygpt's tokenizer ids and greedy tokens."""

import numpy as np
import pytest
import torch
from support.cli import TEXT, fails_cleanly

from mygpt import GPT
from mygpt.checkpoint import save_checkpoint
from mygpt.cli import main
from mygpt.generate import generate
from mygpt.interop.gguf import byte_level, gguf_tensors
from mygpt.tokenizer import BPETokenizer, ByteBPETokenizer, CharTokenizer

gguf = pytest.importorskip("gguf")

CORPUS = TEXT + "Ünïcode — naïve café ☃ 𝄞 tab\there\n"
PROMPTS = ["To be, or", "that is the question.\n", "naïve café ☃", "  q"]


def _model(vocab_size: int, **options) -> GPT:
    torch.manual_seed(0)
    model = GPT(vocab_size, 32, 4, 2, max_seq_len=48, **options)
    with torch.no_grad():  # confident, varied logits: greedy choices far from ties, biases non-zero
        model.token_embedding.embedding.weight.normal_(0, 1.0)
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0, 0.1)
    return model.eval()


TOKENIZERS = {
    "char": lambda: CharTokenizer.from_text(CORPUS),
    "bpe": lambda: BPETokenizer.from_corpus(CORPUS, 40),
    "bytebpe": lambda: ByteBPETokenizer.from_text(CORPUS, 40),
}


def _export(tmp_path, kind: str, **options):
    tokenizer = TOKENIZERS[kind]()
    model = _model(tokenizer.vocab_size, **options)
    save_checkpoint(model, tokenizer, str(tmp_path / "m.ckpt"))
    main(["export-gguf", str(tmp_path / "m.ckpt"), str(tmp_path / "m.gguf")])
    return model, tokenizer, tmp_path / "m.gguf"


def _field(reader, key):
    field = reader.fields[key]
    return field.contents() if hasattr(field, "contents") else field.parts[field.data[0]]


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_file_holds_the_weights_and_the_vocabulary(tmp_path, capsys, kind):
    model, tokenizer, path = _export(tmp_path, kind)
    out = capsys.readouterr().out
    assert "end-of-text" in out and ("tanh" in out)  # the book's erf GELU is reported, not hidden
    reader = gguf.GGUFReader(path)
    assert _field(reader, "general.architecture") == "gpt2"
    tokens = _field(reader, "tokenizer.ggml.tokens")
    eos = _field(reader, "tokenizer.ggml.eos_token_id")
    assert tokens[eos] == "<|endoftext|>"
    if kind == "bytebpe":
        assert len(tokens) == tokenizer.vocab_size and _field(reader, "tokenizer.ggml.pre") == "gpt-2"
    else:
        assert len(tokens) == tokenizer.vocab_size + 1 and eos == tokenizer.vocab_size
        strings = tokenizer.vocab if kind == "bpe" else tokenizer.chars
        assert tokens[:-1] == [byte_level(s) for s in strings]
    written = {t.name: np.array(t.data) for t in reader.tensors}
    expected = gguf_tensors(model)
    assert set(written) - set(expected) == set() and "blk.1.attn_qkv.bias" in written
    for name, array in expected.items():
        if name != "token_embd.weight":
            assert np.array_equal(written[name].reshape(array.shape), array), name
    rows = written["token_embd.weight"].reshape(len(tokens), -1)
    assert np.array_equal(rows[:model.vocab_size], expected["token_embd.weight"][:model.vocab_size])


@pytest.mark.parametrize("options, reason", [({"norm_type": "rms"}, "RMSNorm"),
                                             ({"position_type": "rope"}, "RoPE"),
                                             ({"num_kv_heads": 1}, "grouped-query")])
def test_refuses_what_llama_cpp_gpt2_lacks(tmp_path, capsys, options, reason):
    save_checkpoint(_model(4, **options), CharTokenizer(list("abcd")), str(tmp_path / "m.ckpt"))
    fails_cleanly(["export-gguf", str(tmp_path / "m.ckpt"), str(tmp_path / "m.gguf")], capsys, reason)
    assert not (tmp_path / "m.gguf").exists()


def test_refuses_a_bpe_whose_merges_join_digits(tmp_path, capsys):
    tokenizer = BPETokenizer(list(" 12ab"), [("1", "2"), ("a", "1")])
    save_checkpoint(_model(tokenizer.vocab_size), tokenizer, str(tmp_path / "m.ckpt"))
    fails_cleanly(["export-gguf", str(tmp_path / "m.ckpt"), str(tmp_path / "m.gguf")], capsys, "digit")
    assert list(tmp_path.iterdir()) == [tmp_path / "m.ckpt"]


def test_replaces_only_a_gguf_file_it_wrote(tmp_path, capsys):
    (tmp_path / "m.gguf").write_text("precious")
    save_checkpoint(_model(4), CharTokenizer(list("abcd")), str(tmp_path / "m.ckpt"))
    fails_cleanly(["export-gguf", str(tmp_path / "m.ckpt"), str(tmp_path / "m.gguf")], capsys,
                  "not a GGUF file written by mygpt")
    assert (tmp_path / "m.gguf").read_text() == "precious"
    fails_cleanly(["export-gguf", str(tmp_path / "m.ckpt"), str(tmp_path / "no" / "m.gguf")], capsys,
                  "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["m.ckpt", "m.gguf"]
    (tmp_path / "m.gguf").unlink()
    for _ in range(2):  # its own export it may replace
        main(["export-gguf", str(tmp_path / "m.ckpt"), str(tmp_path / "m.gguf")])
        assert gguf.GGUFReader(tmp_path / "m.gguf").fields["general.architecture"]


# --- llama.cpp itself -------------------------------------------------------------------------------

def _llama(path, n_ctx: int):
    llama_cpp = pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python is not installed (pip install 'mygpt[llama]' builds llama.cpp)")
    return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=1, verbose=False, logits_all=False,
                           type_k=0, type_v=0)  # float32 K/V cache, as mygpt's


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_llama_cpp_tokenizes_like_mygpt(tmp_path, kind):
    _, tokenizer, path = _export(tmp_path, kind)
    llm = _llama(path, 48)
    for text in PROMPTS + [CORPUS[:300]]:
        ours = tokenizer.encode(text).tolist()
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == ours, text
        assert llm.detokenize(ours).decode() == tokenizer.decode(ours)


@pytest.mark.parametrize("kind, options", [("char", {}), ("bpe", {}), ("bytebpe", {}),
                                           ("bytebpe", {"attn_bias": True, "gelu": "tanh"})])
def test_llama_cpp_greedy_tokens_match_mygpt(tmp_path, kind, options):
    model, tokenizer, path = _export(tmp_path, kind, **options)
    llm = _llama(path, model.max_seq_len)
    for text in PROMPTS:
        prompt = tokenizer.encode(text).unsqueeze(0)
        n = model.max_seq_len - prompt.shape[1]
        ours = generate(model, prompt, n, temperature=0)[0, prompt.shape[1]:].tolist()
        theirs = []
        for token in llm.generate(prompt[0].tolist(), top_k=1, temp=0.0, reset=True):
            theirs.append(token)
            if len(theirs) == n:
                break
        assert theirs == ours, text
