"""The two descriptions a run needs: the model's shape (``GPTConfig``) and the training settings
(``TrainConfig``). Each validates itself when created, so the library and the command line reject
the same mistakes with the same explanation.

Field help texts live in the fields' metadata; ``mygpt train --help`` shows them. A problem raises
``ConfigError`` worded with field names (``embed_dim``); the CLI words the same check with its flags
(``--embed-dim``) through ``ConfigError.worded``.
"""

import math
from dataclasses import asdict, dataclass, field, fields

from .errors import MyGPTWarning, notify, require
from .utils import cosine_warmup_lr

NORM_TYPES = ("layer", "rms")
POSITION_TYPES = ("learned", "rope")
PRECISIONS = ("fp32", "bf16")
SCHEDULES = ("constant", "cosine")
GELU_TYPES = ("erf", "tanh")
OPTIMIZERS = ("adamw", "muon")


def _doc(default, help_text: str, choices: tuple[str, ...] | None = None):
    """A dataclass field with a default, the help text the CLI shows for it and, for a field that takes
    one of a few values, those values (its flag's choices)."""
    return field(default=default, metadata={"help": help_text, "choices": choices})


def field_choices(cls, name: str) -> tuple[str, ...] | None:
    """The values field ``name`` of config class ``cls`` accepts, when it takes one of a few."""
    return next(f.metadata.get("choices") for f in fields(cls) if f.name == name)


def field_help(cls, name: str, name_of=str) -> str:
    """The help text of field ``name`` of config class ``cls``; ``name_of`` names the fields it mentions."""
    text = next(f.metadata["help"] for f in fields(cls) if f.name == name)
    return text.format_map(_Names(name_of))


class _Names(dict):
    """``{field}`` in a help text becomes ``name_of(field)``."""

    def __init__(self, name_of):
        super().__init__()
        self.name_of = name_of

    def __missing__(self, key: str) -> str:
        return self.name_of(key)


class _FromDict:
    """``from_dict``: a config from a saved dict (a checkpoint's), the dataclass's own defaults filling
    the fields it lacks (files written before a field existed) and unknown keys left out."""

    @classmethod
    def from_dict(cls, values: dict):
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


def _integers(values: dict, names: tuple[str, ...]) -> None:
    for name in names:
        value = values[name]
        require(isinstance(value, int) and not isinstance(value, bool),
               lambda n, name=name, value=value: f"{n(name)} must be a whole number (got {value!r})")


def _at_least_one(values: dict, *names: str) -> None:
    _integers(values, names)
    for name in names:
        value = values[name]
        require(value >= 1, lambda n, name=name, value=value: f"{n(name)} must be at least 1 (got {value})")


def _zero_or_more(values: dict, *names: str) -> None:
    _integers(values, names)
    for name in names:
        value = values[name]
        require(value >= 0, lambda n, name=name, value=value:
               f"{n(name)} must be 0 or more (got {value}); 0 switches it off")


def _booleans(values: dict, *names: str, none_too: bool = False) -> None:
    """``True`` or ``False`` only: ``fast="no"`` is truthy and would turn the option on."""
    for name in names:
        value = values[name]
        require(isinstance(value, bool) or (none_too and value is None),
               lambda n, name=name, value=value: f"{n(name)} must be True or False"
                                                 f"{' (or None)' if none_too else ''} (got {value!r})")


def _real(value) -> bool:
    """A number that is not a bool (``True`` would pass as 1)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_of(values: dict, name: str, choices: tuple[str, ...]) -> None:
    value = values[name]
    require(value in choices, lambda n: f"unknown {n(name)}: {value!r} (expected "
                                       f"{' or '.join(repr(c) for c in choices)})")


@dataclass(frozen=True)
class GPTConfig(_FromDict):
    """The shape of a GPT (Ch.12): the arguments of the book's ``GPT(...)``, checked.

    ``num_kv_heads=None`` resolves to ``num_heads`` (full multi-head attention). ``dropout`` is a
    training setting of the model; checkpoints do not store it.
    """

    vocab_size: int = field(metadata={"help": "Number of distinct tokens (set by the tokenizer)."})
    embed_dim: int = _doc(64, "Width C of every token vector (Ch.5).")
    num_heads: int = _doc(4, "Attention heads per layer; must divide {embed_dim} (Ch.8).")
    num_layers: int = _doc(4, "Number of transformer blocks (Ch.11).")
    max_seq_len: int = _doc(64, "Context window: the most tokens the model sees at once, which sizes "
                                "its position table and masks (Ch.12).")
    dropout: float = _doc(0.0, "Dropout probability in training, in [0, 1) (Ch.7).")
    norm_type: str = _doc("layer", "'layer' (LayerNorm, Ch.10) or 'rms' (RMSNorm, Ch.24).", NORM_TYPES)
    position_type: str = _doc("learned", "'learned' (Ch.12) or 'rope' (rotary, Ch.25).", POSITION_TYPES)
    num_kv_heads: int | None = _doc(None, "K/V heads for grouped-query attention; must divide the "
                                          "number of heads (Ch.26). None: one per query head.")
    attn_bias: bool = _doc(False, "Biases on the attention's Q, K, V and output projections (GPT-2 has "
                                  "them; the book's attention does not).")
    gelu: str = _doc("erf", "'erf' (the exact GELU, Ch.9) or 'tanh' (GPT-2's approximation).", GELU_TYPES)
    store_masks: bool = _doc(True, "Keep the causal masks (and RoPE tables) in the state_dict, as the "
                                   "book's checkpoints do; False recomputes them from the shape instead.")
    # Options of the modern speedruns (modded-nanogpt, nanochat); all off by default, so the book's
    # models, state_dicts and numbers are unchanged.
    qk_norm: bool = _doc(False, "Normalise each head's queries and keys to unit RMS before attending "
                                "(QK-norm: an RMSNorm over the head dimension, its gains shared by the heads).")
    relu_squared: bool = _doc(False, "relu(x)^2 in place of GELU in the MLP.")
    untied_head: bool = _doc(False, "An output head of its own instead of the token embedding's matrix.")
    zero_init: bool = _doc(False, "Start the blocks' output projections (attention W_O, MLP fc2) and an "
                                  "untied head at zero, so every block starts as the identity.")
    logit_softcap: float = _doc(0.0, "Squash the logits smoothly into (-cap, cap) with cap*tanh(logits/cap); "
                                     "0: off.")

    def __post_init__(self):
        values = asdict(self)
        if self.num_kv_heads is None:
            object.__setattr__(self, "num_kv_heads", self.num_heads)
            values["num_kv_heads"] = self.num_heads
        _at_least_one(values, "vocab_size", "embed_dim", "num_heads", "num_layers", "max_seq_len",
                      "num_kv_heads")
        require(_real(self.dropout) and 0.0 <= self.dropout < 1.0,
               lambda n: f"{n('dropout')} must be in [0, 1) (got {self.dropout!r}), "
                                                    "e.g. 0.1")
        _one_of(values, "norm_type", NORM_TYPES)
        _one_of(values, "position_type", POSITION_TYPES)
        _one_of(values, "gelu", GELU_TYPES)
        _booleans(values, "attn_bias", "store_masks", "qk_norm", "relu_squared", "untied_head", "zero_init")
        cap = self.logit_softcap
        require(_real(cap) and math.isfinite(cap) and cap >= 0,
                lambda n: f"{n('logit_softcap')} must be 0 (off) or a positive number, e.g. 15 (got {cap!r})")
        C, H, KV = self.embed_dim, self.num_heads, self.num_kv_heads
        require(C % H == 0, lambda n: f"{n('embed_dim')} {C} is not divisible by {n('num_heads')} {H}; "
                                     f"choose an {n('embed_dim')} that is a multiple of {H} "
                                     f"(e.g. {H * max(1, C // H)})")
        divisors = ", ".join(str(d) for d in range(1, H + 1) if H % d == 0)
        require(H % KV == 0, lambda n: f"{n('num_heads')} {H} is not divisible by {n('num_kv_heads')} {KV}; "
                                      f"use a {n('num_kv_heads')} that divides it ({divisors})")
        require(self.position_type != "rope" or self.head_dim % 2 == 0,
               lambda n: f"{n('position_type')} rope needs an even head dimension, but {n('embed_dim')} "
                         f"{C} / {n('num_heads')} {H} = {self.head_dim}; change {n('embed_dim')} or "
                         f"{n('num_heads')}")

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads


@dataclass(frozen=True)
class TrainConfig(_FromDict):
    """How ``train`` runs: steps, batches, learning rate and schedule, precision, what it prints.

    The defaults are the book's ``mygpt train`` (Ch.14, Ch.20-21). ``seed`` seeds the stream of
    batches and dropout masks; the model's initial weights come from the seed set before building it.
    """

    steps: int = _doc(2000, "Optimisation steps to run (each on one batch).")
    batch_size: int = _doc(16, "Windows of text per step.")
    seq_len: int = _doc(64, "Tokens per training window; at most the model's context window "
                            "{max_seq_len}.")
    lr: float = _doc(1e-3, "AdamW learning rate (the peak of a cosine {schedule}); with {optimizer} muon, "
                           "that of the weights outside the blocks' matrices.")
    precision: str = _doc("fp32", "'fp32' or 'bf16' (autocast of the forward pass, Ch.20).", PRECISIONS)
    schedule: str = _doc("constant", "'constant' or 'cosine' (warm-up, then cosine decay to 0, Ch.21).",
                         SCHEDULES)
    warmup: int = _doc(0, "Warm-up steps of the cosine schedule.")
    max_grad_norm: float = _doc(0.0, "Clip the gradient norm to this value; 0 disables clipping.")
    val_every: int = _doc(0, "Print the validation loss every N steps (needs validation data); 0: never.")
    print_every: int = _doc(500, "Print the training loss every N steps (and at steps 1 and the last).")
    checkpoint_every: int = _doc(0, "Save a checkpoint every N steps; 0: only at the end.")
    seed: int = _doc(42, "Seed of the batch and dropout stream, set just before step 1.")
    fast: bool = _doc(False, "Train through the fast path (same function, not bit-identical).")
    compile: bool | None = _doc(None, "Fast path only: compile the transformer block (True/False); None "
                                      "decides per run whether compiling repays itself.")
    grad_accum: int = _doc(1, "Micro-batches per step: each step's batch is split into K parts whose "
                              "gradients add up, the same update in 1/K of the activation memory.")
    optimizer: str = _doc("adamw", "'adamw' (the book's, for every weight) or 'muon': Muon (orthogonalised "
                                   "momentum) at {muon_lr} for the blocks' 2-D weights, AdamW at {lr} for "
                                   "the embeddings, head, norms and biases.", OPTIMIZERS)
    muon_lr: float = _doc(0.02, "Muon's learning rate (the peak of a cosine {schedule}); used with "
                                "{optimizer} muon.")

    def __post_init__(self):
        values = asdict(self)
        _at_least_one(values, "steps", "batch_size", "seq_len", "print_every", "grad_accum")
        self.check_parts(1)
        _zero_or_more(values, "val_every", "checkpoint_every", "warmup")
        require(_real(self.lr) and math.isfinite(self.lr) and self.lr > 0,
               lambda n: f"{n('lr')} must be a positive number (got {self.lr!r}); the default is 1e-3")
        require(_real(self.muon_lr) and math.isfinite(self.muon_lr) and self.muon_lr > 0,
                lambda n: f"{n('muon_lr')} must be a positive number (got {self.muon_lr!r}); the default is 0.02")
        require(_real(self.max_grad_norm) and math.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0,
               lambda n: f"{n('max_grad_norm')} must be 0 or more (got {self.max_grad_norm}); "
                         "0 disables clipping")
        _one_of(values, "precision", PRECISIONS)
        _one_of(values, "schedule", SCHEDULES)
        _one_of(values, "optimizer", OPTIMIZERS)
        _booleans(values, "fast")
        _booleans(values, "compile", none_too=True)
        if self.schedule == "cosine" and self.warmup >= self.steps:
            peak = max(cosine_warmup_lr(s, self.warmup, self.steps, self.lr) for s in (self.steps - 1, self.steps))
            notify(lambda n: f"{n('warmup')} {self.warmup} is not shorter than {n('steps')} {self.steps}: the "
                             f"learning rate never reaches {n('lr')} {self.lr:g} (it peaks at {peak:.2e})",
                   MyGPTWarning, stacklevel=3)

    def check_model(self, model_config: GPTConfig) -> None:
        """Training windows must fit the model's context window."""
        T, L = self.seq_len, model_config.max_seq_len
        require(T <= L, lambda n: f"{n('seq_len')} {T} exceeds {n('max_seq_len')} {L}; lower "
                                 f"{n('seq_len')} or raise {n('max_seq_len')}")

    def check_parts(self, processes: int) -> None:
        """The batch must split evenly into ``grad_accum`` micro-batches on each of ``processes`` processes."""
        B, K, W = self.batch_size, self.grad_accum, processes
        require(B % (K * W) == 0, lambda n: f"{n('batch_size')} {B} does not split into {n('grad_accum')} {K} "
                                           f"micro-batches on {W} process(es); use a multiple of {K * W}")

    def check_data(self, n_train: int, n_val: int | None) -> None:
        """Enough tokens for one training window, and one validation window when validation runs."""
        need = self.seq_len + 2
        require(n_train >= need, lambda n: f"the training text has {n_train} tokens but {n('seq_len')} "
                                          f"{self.seq_len} needs at least {need}; use a longer text or a "
                                          f"smaller {n('seq_len')}")
        require(self.val_every == 0 or n_val is not None,
                lambda n: f"{n('val_every')} {self.val_every} needs a validation split, but there is no "
                          f"validation data; add {n('val_split')} (e.g. 0.1) or set {n('val_every')} 0")
        if n_val is not None and self.val_every > 0:
            require(n_val >= need, lambda n: f"the validation data has {n_val} tokens but {n('seq_len')} "
                                            f"{self.seq_len} needs at least {need}; raise {n('val_split')} "
                                            "or use a longer text")
