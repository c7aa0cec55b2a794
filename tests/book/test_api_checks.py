"""Fine-grained API corners, compared line by line with golden/extra/api_checks.txt.

The golden is the output of the spec's conformance script (sections ``== X1`` … ``== X12``); this is an
independent checker that prints the same report, one test per section so that each fails on its own.
Floats are printed with ``repr`` so every bit counts. Every section runs in the shared ``book_dir``,
where X11 samples from the toy model that experiment 28 trains; each seeds what it draws.
"""

import contextlib
import os
import re
from collections.abc import Iterator

import pytest
import torch
from support.goldens import golden_text

from mygpt import (
    GPT,
    MLP,
    BPETokenizer,
    CharTokenizer,
    LayerNorm,
    MultiHeadAttention,
    RMSNorm,
    SingleHeadAttention,
    TransformerBlock,
    apply_rope,
    cosine_warmup_lr,
    estimate_val_loss,
    generate,
    get_batch,
    load_checkpoint,
    precompute_rope_cache,
    save_checkpoint,
    set_seed,
)
from mygpt.norm import _make_norm

SHAKESPEARE_SIZED = {"vocab_size": 65, "embed_dim": 64, "num_heads": 4, "num_layers": 4}


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def error_of(call) -> str:
    """``"<ExceptionType>: <message>"`` for what ``call()`` raises, or ``"no error"``."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the report records any exception type
        return f"{type(exc).__name__}: {exc}"
    return "no error"


def parameter_counts() -> Iterator[str]:
    models = {
        "GPT(4,4,2,2)": {"vocab_size": 4, "embed_dim": 4, "num_heads": 2, "num_layers": 2},
        "GPT(4,8,2,2)": {"vocab_size": 4, "embed_dim": 8, "num_heads": 2, "num_layers": 2},
        "GPT(4,4,2,4)": {"vocab_size": 4, "embed_dim": 4, "num_heads": 2, "num_layers": 4},
        "GPT(4,4,2,2,L=8)": {"vocab_size": 4, "embed_dim": 4, "num_heads": 2, "num_layers": 2,
                             "max_seq_len": 8},
        "default": SHAKESPEARE_SIZED,
        "rms": dict(SHAKESPEARE_SIZED, norm_type="rms"),
        "rope": dict(SHAKESPEARE_SIZED, position_type="rope"),
        "kv2": dict(SHAKESPEARE_SIZED, num_kv_heads=2),
        "kv1": dict(SHAKESPEARE_SIZED, num_kv_heads=1),
        "modern": dict(SHAKESPEARE_SIZED, norm_type="rms", position_type="rope", num_kv_heads=2),
        "wiki": {"vocab_size": 3046, "embed_dim": 192, "num_heads": 6, "num_layers": 4, "max_seq_len": 256,
                     "norm_type": "rms", "position_type": "rope", "num_kv_heads": 2},
    }
    for name, kwargs in models.items():
        yield f"{name}: {n_params(GPT(**kwargs))}"
    yield f"SingleHeadAttention(4,4): {n_params(SingleHeadAttention(4, 4))}"
    mha_counts = [n_params(MultiHeadAttention(8, h)) for h in (1, 2, 4, 8)]
    yield f"MultiHeadAttention(8,h) for h=1,2,4,8: {mha_counts}"
    yield f"MLP(4): {n_params(MLP(4))}"
    yield f"TransformerBlock(4,2): {n_params(TransformerBlock(4, 2))}"
    yield f"TransformerBlock(8,2): {n_params(TransformerBlock(8, 2))}"
    yield f"LayerNorm(4): {n_params(LayerNorm(4))}  RMSNorm(4): {n_params(RMSNorm(4))}"


def state_dict_keys() -> Iterator[str]:
    models = {
        "GPT(4,4,2,1)": {"vocab_size": 4, "embed_dim": 4, "num_heads": 2, "num_layers": 1, "max_seq_len": 8},
        "GPT(4,8,4,1,rms,rope,kv2)": {"vocab_size": 4, "embed_dim": 8, "num_heads": 4, "num_layers": 1,
                                      "max_seq_len": 8, "norm_type": "rms", "position_type": "rope",
                                      "num_kv_heads": 2},
    }
    for name, kwargs in models.items():
        yield name
        yield from (f"  {key} {tuple(value.shape)}" for key, value in GPT(**kwargs).state_dict().items())
    names = [name for name, _ in GPT(4, 4, 2, 1).named_parameters()]
    yield f"named_parameters GPT(4,4,2,1): {names}"


def error_messages() -> Iterator[str]:
    too_long_ids = torch.zeros(1, 4, dtype=torch.long)
    too_long_x = torch.zeros(1, 3, 4)
    calls = [
        lambda: MultiHeadAttention(4, 3),
        lambda: MultiHeadAttention(8, 4, num_kv_heads=3),
        lambda: GPT(4, 4, 2, 1, max_seq_len=2)(too_long_ids),
        lambda: MultiHeadAttention(4, 2, max_seq_len=2)(too_long_x),
        lambda: SingleHeadAttention(4, 4, max_seq_len=2)(too_long_x),
        lambda: _make_norm(4, "x"),
        lambda: precompute_rope_cache(3, 4),
        lambda: MultiHeadAttention(6, 2, position_type="rope"),
        lambda: CharTokenizer.from_text("ab").encode("abc"),
        lambda: BPETokenizer.from_text("abab", 1).encode("abz"),
        lambda: BPETokenizer.from_corpus("abab", 1).encode_corpus("ab z", unk_policy="error"),
    ]
    yield from (error_of(call) for call in calls)
    yield str(BPETokenizer.from_corpus("abab", 1).encode_corpus("ab z").tolist())


def learning_rates() -> Iterator[str]:
    cases = [(1, 100, 2000, 1e-3), (50, 100, 2000, 1e-3), (99, 100, 2000, 1e-3), (100, 100, 2000, 1e-3),
             (500, 100, 2000, 1e-3), (1000, 100, 2000, 1e-3), (1500, 100, 2000, 1e-3),
             (1999, 100, 2000, 1e-3), (2000, 100, 2000, 1e-3), (1, 0, 10, 0.5), (5, 0, 10, 0.5),
             (10, 0, 10, 0.5), (1, 500, 10000, 1e-3), (1000, 500, 10000, 1e-3), (5000, 500, 10000, 1e-3),
             (3, 5, 5, 1.0)]
    for step, warmup, total, max_lr in cases:
        lr = cosine_warmup_lr(step, warmup, total, max_lr)
        yield f"step={step} warmup={warmup} total={total} max_lr={max_lr}: {lr!r}"
    yield f"min_lr=0.1: {cosine_warmup_lr(5, 0, 10, 1.0, 0.1)!r}"


def rope() -> Iterator[str]:
    cos, sin = precompute_rope_cache(8, 4)
    yield f"cos shape {tuple(cos.shape)} sin shape {tuple(sin.shape)}"
    yield f"cos {cos.tolist()}"
    yield f"sin {sin.tolist()}"
    x = torch.arange(48, dtype=torch.float32).reshape(1, 2, 3, 8) / 10.0
    yield f"apply_rope {apply_rope(x, cos, sin).tolist()}"


def norms() -> Iterator[str]:
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.5, -1.5, 2.25, 0.0]])
    yield f"LayerNorm {LayerNorm(4)(x).tolist()}"
    yield f"RMSNorm {RMSNorm(4)(x).tolist()}"
    yield f"RMSNorm([3,4]) {RMSNorm(2)(torch.tensor([3.0, 4.0])).tolist()}"


def toy_forwards() -> Iterator[str]:
    ids, targets = torch.tensor([[0, 1, 2, 3, 1]]), torch.tensor([[1, 2, 3, 1, 0]])
    variants = {
        "layer/learned/mha": {},
        "rms": {"norm_type": "rms"},
        "rope": {"position_type": "rope"},
        "kv1": {"num_kv_heads": 1},
        "rms+rope+kv1": {"norm_type": "rms", "position_type": "rope", "num_kv_heads": 1},
    }
    for name, kwargs in variants.items():
        set_seed(0)
        model = GPT(vocab_size=5, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=8, **kwargs).eval()
        logits, loss = model(ids, targets)
        yield f"{name}: loss={loss.item()!r} logits[0,-1]={logits[0, -1].tolist()!r}"
    set_seed(0)
    logits, loss = GPT(vocab_size=5, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=8)(ids)
    yield f"no targets: loss is None = {loss is None}, logits shape {tuple(logits.shape)}"


def batches() -> Iterator[str]:
    data = torch.arange(100)
    set_seed(42)
    for _ in range(2):
        x, y = get_batch(data, 3, 5)
        yield f"x {x.tolist()} y {y.tolist()} {x.dtype}"


def validation_rng() -> Iterator[str]:
    set_seed(0)
    model = GPT(vocab_size=4, embed_dim=8, num_heads=2, num_layers=2).train()
    val = torch.tensor([0, 1, 2, 3] * 16)
    set_seed(42)
    loss = estimate_val_loss(model, val, 4, 8)
    yield f"val loss {loss!r}; model.training after = {model.training}"
    yield f"next randint(0, 1000, (3,)) = {torch.randint(0, 1000, (3,)).tolist()}"
    set_seed(42)
    yield f"n_eval_batches=3: {estimate_val_loss(model, val, 2, 8, n_eval_batches=3)!r}"
    yield f"next randint(0, 1000, (3,)) = {torch.randint(0, 1000, (3,)).tolist()}"


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def tokenizers() -> Iterator[str]:
    CharTokenizer.from_text("hello world\n").save("x_char.json")
    yield f"char json: {_read('x_char.json')}"

    text, sample = "the cat sat on the mat the cat ran", "the rat sat on the cat"
    whole, words = BPETokenizer.from_text(text, 10), BPETokenizer.from_corpus(text, 10)
    yield f"from_text merges: {whole.merges}"
    yield f"from_corpus merges: {words.merges}"
    yield f"from_text vocab_size: {whole.vocab_size} from_corpus vocab_size: {words.vocab_size}"
    ids = whole.encode(sample).tolist()
    yield f"from_text encode: {ids} {[whole.vocab[i] for i in ids]}"
    yield f"from_corpus encode: {words.encode(sample).tolist()}"
    ids = words.encode_corpus(sample).tolist()
    yield f"from_corpus encode_corpus: {ids} {[words.vocab[i] for i in ids]}"
    yield f"word cache: {words._word_cache}"
    yield f"decode round trip: {words.decode(words.encode_corpus(sample)) == sample}"
    words.save("x_bpe.json")
    yield f"bpe json: {_read('x_bpe.json')}"
    loaded = BPETokenizer.load("x_bpe.json")
    yield (f"loaded merges are tuples: {all(isinstance(m, tuple) for m in loaded.merges)} "
           f"{loaded.merges == words.merges}")

    yield f"from_text many merges: {BPETokenizer.from_text('aaaa', 10).merges}"
    overlapping = BPETokenizer.from_text("aaab", 1)
    yield f"from_text overlapping count: {overlapping.merges} {overlapping.encode('aaab').tolist()}"
    dup = BPETokenizer(["a", "b", "c"], [("a", "b"), ("b", "c"), ("ab", "c"), ("a", "bc")])
    yield f"dup vocab: {dup.vocab} stoi: {dup.stoi}"
    yield (f"dup encode abc: {dup.encode('abc').tolist()} "
           f"encode_corpus abc: {dup.encode_corpus('abc').tolist()}")
    spaced = "  a b\n\nab  ab\tab"
    spaces = BPETokenizer.from_corpus(spaced, 3)
    yield f"whitespace corpus merges: {spaces.merges}"
    yield f"whitespace encode_corpus: {spaces.encode_corpus(spaced + ' ').tolist()}"
    yield f"whitespace word cache keys: {list(spaces._word_cache)}"


def sampling() -> Iterator[str]:
    set_seed(0)
    model = GPT(vocab_size=4, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=64)
    model.load_state_dict(torch.load("trained_gpt.pt"))
    prompt = torch.tensor([[0], [2]])
    for seed, temperature, top_k, n in [(0, 1.0, None, 12), (0, 3.0, None, 12), (1, 5.0, 2, 12),
                                        (7, 10.0, None, 70)]:
        set_seed(seed)
        out = generate(model, prompt, max_new_tokens=n, temperature=temperature, top_k=top_k)
        yield f"seed={seed} temperature={temperature} top_k={top_k} n={n}: {out.tolist()}"
    yield f"model.training after generate: {model.training}"


def checkpoints() -> Iterator[str]:
    set_seed(0)
    model = GPT(vocab_size=8, embed_dim=8, num_heads=2, num_layers=1, max_seq_len=16, norm_type="rms",
                position_type="rope", num_kv_heads=1)
    chars = CharTokenizer.from_text("I love AI !")
    save_checkpoint(model, chars, "x_char.ckpt")
    yield f"tmp file left: {os.path.exists('x_char.ckpt.tmp')}"
    payload = torch.load("x_char.ckpt", map_location="cpu")
    yield f"keys: {list(payload)}"
    yield f"config: {payload['config']}"
    yield (f"tokenizer_chars: {payload['tokenizer_chars']} kind: {payload['tokenizer_kind']} "
           f"state: {payload['tokenizer_state']}")
    yield f"state_dict keys: {list(payload['model_state_dict'])}"
    loaded, loaded_tok = load_checkpoint("x_char.ckpt")
    yield (f"loaded: {type(loaded).__name__} {type(loaded_tok).__name__} {loaded.norm_type} "
           f"{loaded.position_type} {loaded.num_kv_heads} training: {loaded.training}")
    ids = chars.encode("I love").unsqueeze(0)
    model.eval()
    loaded.eval()
    yield f"same logits: {torch.equal(model(ids)[0], loaded(ids)[0])}"

    bpe = BPETokenizer.from_corpus("I love AI ! I love AI !", 3)
    set_seed(0)
    save_checkpoint(GPT(vocab_size=bpe.vocab_size, embed_dim=8, num_heads=2, num_layers=1, max_seq_len=16),
                    bpe, "x_bpe.ckpt")
    payload = torch.load("x_bpe.ckpt", map_location="cpu")
    yield f"bpe keys: {list(payload)}"
    yield f"bpe config: {payload['config']}"
    yield (f"bpe kind: {payload['tokenizer_kind']} state: {payload['tokenizer_state']} "
           f"tokenizer_chars: {payload['tokenizer_chars']}")
    _, bpe_loaded = load_checkpoint("x_bpe.ckpt")
    yield f"bpe loaded: {type(bpe_loaded).__name__} {bpe_loaded.merges}"

    # A Chapter-18 checkpoint, without any of the keys added later, still loads.
    old = {"model_state_dict": GPT(8, 8, 2, 1, max_seq_len=16).state_dict(), "tokenizer_chars": chars.chars,
           "config": {"vocab_size": 8, "embed_dim": 8, "num_heads": 2, "num_layers": 1, "max_seq_len": 16}}
    torch.save(old, "x_old.ckpt")
    old_model, old_tok = load_checkpoint("x_old.ckpt")
    yield (f"old loaded: {type(old_tok).__name__} {old_model.norm_type} {old_model.position_type} "
           f"{old_model.num_kv_heads}")


SECTIONS = [
    ("X1", "parameter counts", parameter_counts),
    ("X2", "state_dict keys and shapes", state_dict_keys),
    ("X3", "error messages", error_messages),
    ("X4", "cosine_warmup_lr", learning_rates),
    ("X5", "rope cache and apply_rope", rope),
    ("X6", "LayerNorm and RMSNorm", norms),
    ("X7", "toy forward passes (set_seed(0) then GPT(...), eval, ids [[0,1,2,3,1]], targets [[1,2,3,1,0]])",
     toy_forwards),
    ("X8", "get_batch on arange(100), set_seed(42), B=3, T=5, twice", batches),
    ("X9", "estimate_val_loss and RNG consumption", validation_rng),
    ("X10", "tokenizers", tokenizers),
    ("X11", "generate on trained_gpt.pt (GPT(4,8,2,2))", sampling),
    ("X12", "checkpoint payload", checkpoints),
]


# Sections whose printed floats differ from the golden in the last bits on some x86-64 CPUs (seen on
# an AMD EPYC / AVX2 host, with the spec's own script as well): tiny models (C=8) in eval mode.
# MKL_CBWR settings alone move those bits, so they are platform noise, not our arithmetic; their floats
# are compared to within 1e-6 (every other section, and all text, exactly).
LAST_BIT_SECTIONS = ("X7", "X9")
_FLOAT = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def _by_section(report: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    for line in report.splitlines():
        if line.startswith("== "):
            current = sections.setdefault(line.split()[1], [])
        current.append(line)
    return sections


GOLDEN = _by_section(golden_text("extra/api_checks.txt"))


def test_the_report_has_the_goldens_sections_in_order():
    assert [tag for tag, _, _ in SECTIONS] == list(GOLDEN)


@pytest.mark.parametrize("tag, title, section", SECTIONS, ids=[tag for tag, _, _ in SECTIONS])
def test_api_section_matches_golden(tag, title, section, book_dir):
    if tag == "X11":
        book_dir.output("28")  # writes trained_gpt.pt
    with contextlib.chdir(book_dir.directory):
        actual = [f"== {tag} {title}", *section()]
    want = GOLDEN[tag]
    if tag not in LAST_BIT_SECTIONS:
        assert actual == want
        return
    assert len(actual) == len(want), tag
    for got, expected in zip(actual, want):
        assert _FLOAT.sub("<f>", got) == _FLOAT.sub("<f>", expected), (got, expected)
        for g, w in zip(_FLOAT.findall(got), _FLOAT.findall(expected)):
            assert float(g) == pytest.approx(float(w), rel=1e-6, abs=1e-6), (got, expected)

