"""The GPT model: loss definition, tied head, parameter counts, its config, API surface (Ch.12-13)."""

import ast
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mygpt
from mygpt import (
    GPT,
    MLP,
    LayerNorm,
    MultiHeadAttention,
    RMSNorm,
    TokenEmbedding,
    TransformerBlock,
    set_seed,
    to_ids,
)
from mygpt.config import GPTConfig
from mygpt.norm import _make_norm


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _loss_of(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The model's loss on given logits: F.cross_entropy as in GPT.forward (Ch.13)."""
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(logits.view(-1, V), targets.view(-1)).item()


# --- the loss -------------------------------------------------------------------------------------

def test_uniform_prediction_costs_exactly_log_v():
    """A GPT whose embeddings are all zero predicts uniformly: its loss is log(V) exactly."""
    set_seed(0)
    model = GPT(vocab_size=7, embed_dim=8, num_heads=2, num_layers=1)
    with torch.no_grad():
        model.token_embedding.embedding.weight.zero_()  # tied head -> all logits 0
    ids = torch.tensor([[0, 1, 2, 3, 4, 5]])
    _, loss = model(ids[:, :-1], ids[:, 1:])
    assert loss.item() == pytest.approx(math.log(7), abs=1e-6)
    assert _loss_of(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long)) == pytest.approx(math.log(4))


def test_confident_right_costs_nothing_and_confident_wrong_costs_a_lot():
    logits = torch.tensor([[[100.0, 0.0, 0.0, 0.0]]])
    assert _loss_of(logits, torch.tensor([[0]])) == pytest.approx(0.0, abs=1e-6)
    assert _loss_of(logits, torch.tensor([[1]])) == pytest.approx(100.0, rel=1e-6)


def test_targets_are_the_inputs_shifted_by_one():
    full = to_ids(["I", "love", "AI", "!"]).unsqueeze(0)
    inputs, targets = full[:, :-1], full[:, 1:]
    assert inputs.tolist() == [[0, 1, 2]] and targets.tolist() == [[1, 2, 3]]
    set_seed(0)
    model = GPT(4, 4, 2, 2).eval()
    logits, loss = model(inputs, targets)
    assert f"{loss.item():.4f}" == "4.2588"  # the Ch.13 demo
    assert loss.item() == pytest.approx(_loss_of(logits, targets), abs=0)


def test_forward_without_targets_returns_logits_and_none():
    set_seed(0)
    logits, loss = GPT(4, 4, 2, 2)(torch.tensor([[0, 1, 2]]))
    assert loss is None
    assert logits.shape == (1, 3, 4) and logits.dtype == torch.float32


# --- the tied head --------------------------------------------------------------------------------

def test_head_is_tied_to_the_token_embedding():
    set_seed(0)
    model = GPT(4, 8, 2, 1)
    weight = model.token_embedding.embedding.weight
    assert not any(p.shape == weight.shape and p is not weight for p in model.parameters())
    names = [n for n, _ in model.named_parameters()]
    assert not any("head" in n or "lm_" in n for n in names)
    x = torch.tensor([[0, 1]])
    logits, _ = model(x)
    embedded = model.token_embedding(x) + model.position_embedding.weight[:2]
    hidden = model.ln_f(model.blocks(model.embed_drop(embedded)))
    assert torch.equal(logits, hidden @ weight.T)


def test_gradient_reaches_embedding_through_the_head():
    """Token 3 never appears in the input, so its embedding row learns only through the tied head."""
    set_seed(0)
    model = GPT(4, 8, 2, 1)
    _, loss = model(torch.tensor([[0, 1, 2]]), torch.tensor([[1, 2, 0]]))
    loss.backward()
    grad = model.token_embedding.embedding.weight.grad
    assert grad is not None and grad[3].abs().sum() > 0


# --- parameter counts ---------------------------------------------------------------------------------

SHAKESPEARE = {"vocab_size": 65, "embed_dim": 64, "num_heads": 4, "num_layers": 4}


@pytest.mark.parametrize("kwargs, expected", [
    (SHAKESPEARE, 207_296),
    (dict(SHAKESPEARE, norm_type="rms"), 206_720),
    (dict(SHAKESPEARE, position_type="rope"), 203_200),
    (dict(SHAKESPEARE, num_kv_heads=2), 190_912),
    (dict(SHAKESPEARE, num_kv_heads=1), 182_720),
    (dict(SHAKESPEARE, norm_type="rms", position_type="rope", num_kv_heads=2), 186_240),
    ({"vocab_size": 4, "embed_dim": 4, "num_heads": 2, "num_layers": 2}, 736),
    ({"vocab_size": 4, "embed_dim": 8, "num_heads": 2, "num_layers": 2}, 2_240),
], ids=["default", "rms", "rope", "kv2", "kv1", "modern", "toy", "exp28"])
def test_gpt_parameter_counts(kwargs, expected):
    assert n_params(GPT(**kwargs)) == expected


@pytest.mark.parametrize("C", [4, 8, 64])
def test_component_parameter_formulas(C):
    V, L = 65, 64
    assert n_params(TokenEmbedding(V, C)) == V * C
    assert n_params(MultiHeadAttention(C, 2)) == 4 * C * C
    assert n_params(MultiHeadAttention(C, 4, num_kv_heads=2)) == 2 * C * C + 2 * C * (2 * C // 4)
    assert n_params(MLP(C)) == 8 * C * C + 5 * C
    assert n_params(LayerNorm(C)) == 2 * C
    assert n_params(RMSNorm(C)) == C
    assert n_params(TransformerBlock(C, 2)) == 12 * C * C + 9 * C
    assert n_params(GPT(V, C, 2, 3, max_seq_len=L)) == V * C + L * C + 3 * (12 * C * C + 9 * C) + 2 * C


# --- construction from a config, and its checks ----------------------------------------------------------

def test_config_round_trip_builds_the_same_model():
    set_seed(0)
    model = GPT(65, 32, 4, 2, max_seq_len=16, norm_type="rms", position_type="rope", num_kv_heads=2)
    assert model.config == GPTConfig(65, 32, 4, 2, 16, 0.0, "rms", "rope", 2)
    set_seed(0)
    again = GPT.from_config(model.config)
    assert again.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert model.num_params() == n_params(model) == 25_088


def test_num_kv_heads_resolves_in_the_config():
    assert GPT(4, 8, 2, 1).config.num_kv_heads == 2 and GPT(4, 8, 2, 1).num_kv_heads == 2


@pytest.mark.parametrize("kwargs, names", [
    ({"vocab_size": 0}, ["vocab_size must be at least 1 (got 0)"]),
    ({"num_layers": -1}, ["num_layers must be at least 1 (got -1)"]),
    ({"max_seq_len": 0}, ["max_seq_len must be at least 1"]),
    ({"num_heads": 0}, ["num_heads must be at least 1"]),
    ({"embed_dim": 10, "num_heads": 4}, ["embed_dim 10 is not divisible by num_heads 4", "multiple of 4"]),
    ({"num_kv_heads": 3}, ["num_heads 4 is not divisible by num_kv_heads 3", "(1, 2, 4)"]),
    ({"dropout": 1.0}, ["dropout must be in [0, 1)"]),
    ({"embed_dim": 8.0}, ["embed_dim must be a whole number (got 8.0)"]),
    ({"position_type": "sinusoid"}, ["unknown position_type: 'sinusoid' (expected 'learned' or 'rope')"]),
])
def test_constructor_rejects_impossible_sizes_naming_the_argument(kwargs, names):
    args = {"vocab_size": 4, "embed_dim": 8, "num_heads": 4, "num_layers": 1, **kwargs}
    with pytest.raises(ValueError) as info:
        GPT(**args)
    for name in names:
        assert name in str(info.value)


def test_book_error_messages_of_the_model():
    with pytest.raises(ValueError, match=r"^input length T=4 exceeds max_seq_len=2$"):
        GPT(4, 4, 2, 1, max_seq_len=2)(torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^unknown norm_type: 'batch' \(expected 'layer' or 'rms'\)$"):
        GPT(4, 4, 2, 1, norm_type="batch")
    with pytest.raises(ValueError, match=r"^unknown norm_type: 'x' \(expected 'layer' or 'rms'\)$"):
        _make_norm(4, "x")
    with pytest.raises(ValueError, match=r"^tuple.index\(x\): x not in tuple$"):
        to_ids(["you"])


# --- package surface and reprs ----------------------------------------------------------------------

EXPORTS = {"MultiHeadAttention", "SingleHeadAttention", "apply_rope", "precompute_rope_cache",
           "TransformerBlock", "load_checkpoint", "save_checkpoint", "main", "TokenEmbedding", "generate",
           "MLP", "GPT", "LayerNorm", "RMSNorm", "BPETokenizer", "CharTokenizer", "VOCAB",
           "cosine_warmup_lr", "estimate_val_loss", "get_batch", "pick_device", "set_seed", "to_ids"}


def test_package_reexports_exactly_the_23_names():
    public = {name for name in vars(mygpt) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(mygpt, name)).__name__ == "module"}
    assert public - modules == EXPORTS
    assert not hasattr(mygpt, "__all__")
    assert not hasattr(mygpt, "_make_norm")


def test_module_reprs():
    assert repr(TokenEmbedding(4, 4)) == "TokenEmbedding(\n  (embedding): Embedding(4, 4)\n)"
    assert repr(LayerNorm(4)) == "LayerNorm()" and repr(RMSNorm(4)) == "RMSNorm()"
    block = repr(TransformerBlock(4, num_heads=2))
    assert block.splitlines()[:3] == [
        "TransformerBlock(", "  (ln1): LayerNorm()", "  (mha): MultiHeadAttention("]
    assert "    (act): GELU(approximate='none')" in block.splitlines()


def test_gpt_children_in_book_order():
    assert [n for n, _ in GPT(4, 4, 2, 1).named_children()] == [
        "token_embedding", "position_embedding", "embed_drop", "blocks", "ln_f"]
    assert [n for n, _ in GPT(4, 4, 2, 1, position_type="rope").named_children()] == [
        "token_embedding", "embed_drop", "blocks", "ln_f"]


def test_importing_the_library_leaves_the_application_out():
    """``import mygpt`` loads the library only: no CLI, bench or download code, no tqdm of ours."""
    code = ("import sys, mygpt; app = ['mygpt.cli', 'mygpt.bench', 'mygpt.data.corpus']; "
            "print([m for m in app if m in sys.modules], 'mygpt.train' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[] True"
    package = Path(mygpt.__file__).parent
    for path in package.rglob("*.py"):
        module = ".".join(("mygpt", *path.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
        imported = _module_level_imports(path, module)
        if not module.startswith("mygpt.cli") and module != "mygpt.__main__":
            assert "tqdm" not in imported, f"{module} imports tqdm at module level"
            assert not any(m.startswith("mygpt.cli") for m in imported), f"{module} imports the application"


MODEL_MODULES = ("embedding", "attention", "mlp", "norm", "block", "model", "kv_cache", "config")


@pytest.mark.parametrize("name", MODEL_MODULES)
def test_the_model_never_imports_training_checkpoints_or_tokenizers(name):
    path = Path(mygpt.__file__).parent / f"{name}.py"
    imported = _module_level_imports(path, f"mygpt.{name}")
    banned = ("mygpt.train", "mygpt.checkpoint", "mygpt.tokenizer", "mygpt.data", "mygpt.cli")
    assert not [m for m in imported if m.startswith(banned)], f"mygpt.{name} imports {imported}"


def _module_level_imports(path: Path, module: str) -> set[str]:
    """Absolute names of the modules a file imports at module level (``from . import x`` counts as ``pkg.x``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names |= {base} if node.module else {f"{base}.{alias.name}" for alias in node.names}
    return names
