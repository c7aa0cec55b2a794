"""``mygpt train``: the book's command (Ch.18-28), plus a built-in corpus and a few conveniences.

Read top to bottom, as a run goes: the parser; ``resolve`` turns the arguments into frozen objects
once (a ``Plan``: ``GPTConfig``, ``TrainConfig``, the data, the output, and an ``Invocation`` of what is
only the command line's); ``train.preflight.check_run`` checks all of it before anything is printed; the model
is built and trained; the header and the report are printed from those objects.
"""

import argparse
import dataclasses
import os
import sys
import types
from dataclasses import dataclass

from ..checkpoint import read_checkpoint, rebuild
from ..config import GPTConfig, TrainConfig, field_choices, field_help
from ..data.shards import is_prepared
from ..data.sources import PreparedCorpus, TextCorpus
from ..errors import require
from ..model import GPT
from ..tokenizer import TOKENIZERS
from ..train import CheckedRun, Plan, check_run, train_checked
from ..train.distributed import close_world, init_world, main_only_stdout
from ..train.guards import run_outputs
from ..train.recipes import RECIPES
from ..utils import check_seed, set_seed
from .checks import check_device
from .common import (
    BPE_TRAIN_UNIT,
    DEVICE_HELP,
    DEVICES,
    FAST_HELP,
    PRECISION_HELP,
    add_below,
    flag,
    option,
    sample,
)

TRAIN_DESCRIPTION = ("Without text_file, trains on a built-in corpus (Python's documentation, no "
                     "network needed) for 1500 steps, then prints a sample. text_file 'shakespeare' "
                     "downloads Tiny Shakespeare once into $MYGPT_CACHE (default ~/.cache/mygpt); an "
                     "existing file of that name wins.")

TRAIN_EPILOG = ("text_file may also be a folder written by `mygpt prepare` (corpora bigger than memory). "
                "`torchrun --nproc_per_node N -m mygpt train ...` trains on N processes (GPUs), "
                "--batch-size being the batch of all of them together.")

# The book's defaults for --steps/--print-every apply whenever a text file is given; the built-in
# job is shorter so that the first run ends soon.
BOOK_STEPS = {"steps": 2000, "print_every": 500}
BUILTIN_STEPS = {"steps": 1500, "print_every": 250}
BUILTIN_PROMPT = "The "
BATCH_SEED_OFFSET = 42  # --seed S seeds the weights with S, the batches and dropout with S + 42 (the book's 0, 42)
SEED_HELP = ("Seed of the model's initial weights (0 to 2**64-43); the batches and dropout draw from seed + 42. "
             "Default: 0 (the book's seeds, 0 and 42).")
# The model's shape: these flags default to "not given", so that --init can tell a conflict from a default
# (and so does --seq-len, whose default under --init is the checkpoint's).
ARCHITECTURE = ("embed_dim", "num_heads", "num_layers", "max_seq_len", "norm_type", "position_type", "num_kv_heads",
                "qk_norm", "relu_squared", "untied_head", "zero_init", "logit_softcap")
# Config fields without a flag of their own: the vocabulary comes from the tokenizer, the GPT-2 layout
# options from `mygpt import-hf`, the batch seed from --seed, the compile decision from $MYGPT_COMPILE.
NO_FLAG = ("vocab_size", "attn_bias", "gelu", "store_masks", "seed", "compile")
# The book's help lines of config fields (Ch.18-26), word for word (tests/golden/cli/train_help.txt); the
# type, choices and default of these flags still come from the field, and what the line leaves out
# (its default) follows it as a paragraph of its own.
BOOK_HELP = {
    "precision": PRECISION_HELP,
    "val_every": "Print val loss every N steps. Requires --val-split > 0.",
    "schedule": "LR schedule. 'constant' (default) holds at --lr; 'cosine' linearly warms up over --warmup "
                "steps then cosine-decays to 0.",
    "warmup": "Warmup steps for the cosine schedule (no effect if --schedule=constant).",
    "max_grad_norm": "Gradient-norm clip threshold. 0.0 (default) disables clipping.",
    "norm_type": "Normalisation: 'layer' (default; LayerNorm, Ch.10) or 'rms' (RMSNorm, Llama default).",
    "position_type": "Position embedding: 'learned' (default; nn.Embedding, Ch.12) or 'rope' (rotary, Llama "
                     "default).",
    "num_kv_heads": "Number of K/V heads for grouped-query attention. Default: same as --num-heads (full MHA, "
                    "Ch.8). Must divide --num-heads.",
    "checkpoint_every": "Save the checkpoint every N steps (0 = save only at end, default). Atomic write: a "
                        "Ctrl-C mid-save does not corrupt the file.",
}
# Shape options that --init takes from the checkpoint, and --seq-len's default there (_init).
INIT_NOTE = "Under --init: the checkpoint's."
SEQ_LEN_INIT_NOTE = ("Under --init: the --seq-len the checkpoint was trained with, else 64 or its context "
                     "window if shorter.")


def _default(config_class, name: str):
    return next(f.default for f in dataclasses.fields(config_class) if f.name == name)


def _shown(value) -> str:
    """A default as the help shows it (None: none)."""
    return "none" if value is None else str(value)


def _help(config_class, name: str, default=None) -> str:
    """A config field's help for its flag, naming other settings by their flags, with the default."""
    default = _shown(_default(config_class, name)) if default is None else default
    return f"{field_help(config_class, name, flag)} Default: {default}."


def _tokenizer_more() -> str:
    """What the book's --tokenizer line leaves out: mygpt's other kinds, from the registry."""
    return " ".join(f"'{cls.kind}': {cls.about}" + (f" (needs {cls.extra})" if cls.extra else "")
                    + (", which encodes any text." if cls.chars is None else ".")
                    for cls in TOKENIZERS.values() if not cls.book)


def _merging_kinds() -> str:
    kinds = [kind for kind, cls in TOKENIZERS.items() if cls.learns_merges]
    return " and ".join(f"'{kind}'" for kind in kinds)


def add_parser(sub) -> None:
    """Register ``mygpt train`` (options in the book's order, then the ones mygpt adds).

    A config field's flag takes its type, choices, default and help from the field (``_field_flag``);
    the book's own help lines stay word for word, what they leave out following them. The architecture
    flags default to None, "not given" (the help shows ``GPTConfig``'s default). A config field without
    a flag written here gets one derived from it, so a new field needs no hand-written flag or help.
    """
    t = sub.add_parser("train", help="Train a GPT on a plain-text file.", description=TRAIN_DESCRIPTION,
                       epilog=TRAIN_EPILOG)
    option(t, "text_file", nargs="?", default=None, help="Path to a UTF-8 text file.",
           more="Default: none, the built-in corpus (see above).")
    option(t, "--output", default="model.ckpt", help="Checkpoint output path.")
    add_below(t, "--steps", type=int, default=None,
              help=_help(TrainConfig, "steps", "2000 (1500 for the built-in corpus)"))
    _field_flag(t, "batch_size", below=True)
    _field_flag(t, "seq_len", below=True, more=SEQ_LEN_INIT_NOTE)
    for name in ("lr", "embed_dim", "num_heads", "num_layers", "max_seq_len", "dropout"):
        _field_flag(t, name, below=True)
    add_below(t, "--print-every", type=int, default=None,
              help=_help(TrainConfig, "print_every", "500 (250 for the built-in corpus)"))
    option(t, "--device", default="auto", choices=DEVICES, help=DEVICE_HELP)
    _field_flag(t, "precision")
    option(t, "--val-split", type=float, default=0.0,
           help="Fraction of the corpus held out as validation data (0.0 = none, default).")
    for name in ("val_every", "schedule", "warmup", "max_grad_norm", "norm_type", "position_type", "num_kv_heads"):
        _field_flag(t, name)
    # The book's lines stay as printed: its two kinds in the metavar, the others (from the registry) after it.
    option(t, "--tokenizer", default=None, choices=list(TOKENIZERS),
           metavar="{" + ",".join(k for k, cls in TOKENIZERS.items() if cls.book) + "}",
           help="Tokenizer to use. 'char' (default; CharTokenizer, Ch.16) or 'bpe' (BPETokenizer, "
                "Ch.23). BPE training runs on the corpus before model training.", more=_tokenizer_more())
    option(t, "--num-merges", type=int, default=1024,
           help="Number of BPE merges (only meaningful when --tokenizer=bpe). Default 1024.",
           more=f"Every kind that learns merges uses it: {_merging_kinds()}.")
    option(t, "--bpe-train-bytes", type=int, default=0,
           help="Train BPE on the first N bytes of the corpus (0 = full corpus, default). Useful "
                "when the BPE training cost on the full corpus is too high; the encoder still runs "
                "on the full corpus and skips characters that did not appear in the training slice.",
           more=BPE_TRAIN_UNIT + " The same in mygpt prepare (whose default is 10,000,000).")
    _field_flag(t, "checkpoint_every")
    option(t, "--fast", action="store_true", help=FAST_HELP)
    option(t, "--seed", type=int, default=0, help=SEED_HELP)
    option(t, "--resume", metavar="CKPT", default=None,
           help="Continue the run saved in CKPT (a checkpoint of `mygpt train`, e.g. one left by "
                "Ctrl-C or --checkpoint-every) exactly where it stopped; give the same text and "
                "flags as that run (--steps may grow under the constant schedule). Default: none (a new run).")
    option(t, "--init", metavar="CHECKPOINT", default=None,
           help="Fine-tune: start from this checkpoint's weights, keeping its architecture and "
                "tokenizer (e.g. one made by `mygpt import-hf`): the shape options and --seq-len "
                "default to the checkpoint's. --dropout still applies. Default: none (a new model).")
    written = {action.dest for action in t._actions} | {"norm_type", "position_type"}
    for config_class in (GPTConfig, TrainConfig):
        for field in dataclasses.fields(config_class):
            if field.name not in written and field.name not in NO_FLAG:
                _field_flag(t, field.name)
    _add_recipe(t)
    t.set_defaults(func=_train_command)


# Issue 18: --recipe NAME fills every flag the command line leaves out with the recipe's value
# (train.recipes). The train parser reads the recipe first, then parses again with those values as
# its defaults, so the flags given win whatever their value.
class _RecipeParser(argparse.ArgumentParser):
    def parse_known_args(self, args=None, namespace=None):
        first, _ = super().parse_known_args(args, None)
        if first.recipe is not None:
            self.set_defaults(**{_dest(name): value for name, value in RECIPES[first.recipe].settings().items()})
        return super().parse_known_args(args, namespace)


def _add_recipe(t: argparse.ArgumentParser) -> None:
    option(t, "--recipe", choices=sorted(RECIPES), default=None,
           help="A tuned set of the flags above for a goal (the flags you give still win): "
                + "; ".join(f"'{name}': {r.summary}" for name, r in sorted(RECIPES.items())) + ".",
           more="Default: none (every flag at its own default).")
    t.__class__ = _RecipeParser  # argparse makes every sub-parser of one class


def _config_field(name: str) -> tuple[type, dataclasses.Field]:
    """The config class that has field ``name``, and the field."""
    for config_class in (GPTConfig, TrainConfig):
        for field in dataclasses.fields(config_class):
            if field.name == name:
                return config_class, field
    raise KeyError(name)


def _field_flag(parser: argparse.ArgumentParser, name: str, below: bool = False, more: str | None = None) -> None:
    """The flag of config field ``name``, all from the field: its type, its choices, its default and its
    help (the book's line when it has one, ``BOOK_HELP``), then ``more``. Architecture flags default to
    None (not given) and say under --init that they are the checkpoint's."""
    config_class, field = _config_field(name)
    kind = field.type
    if isinstance(kind, types.UnionType):  # ``int | None``: the flag takes the other type
        kind = next(arg for arg in kind.__args__ if arg is not type(None))
    options = {"action": argparse.BooleanOptionalAction} if kind is bool else {"type": kind}
    choices = field_choices(config_class, name)
    if choices:
        options["choices"] = list(choices)
    book = BOOK_HELP.get(name)
    notes = [more] if more else []
    if book is not None and "default" not in book.lower():
        notes.insert(0, f"Default: {_shown(field.default)}.")
    if name in ARCHITECTURE:
        notes.append(INIT_NOTE)
    option(parser, flag(name), default=None if name in (*ARCHITECTURE, "seq_len") else field.default,
           help=book or _help(config_class, name), more=" ".join(notes) or None, below=below, **options)


@dataclass(frozen=True)
class Invocation:
    """What only the command line has, beside the ``Plan``: the device asked for, the seed of the initial
    weights (the batches use seed + 42), the weights ``--init`` starts from, how the data was named."""

    device: str
    seed: int
    init: str | None = None
    init_weights: dict | None = None
    builtin: bool = False


def resolve(args: argparse.Namespace) -> tuple[Plan, Invocation]:
    """The run the arguments describe, as frozen objects made once (the ``Namespace`` is only read).

    Checks what only the command line has (seed range, device); the configs check themselves when made.
    ``--init`` reads its checkpoint here: its shape and tokenizer are the run's, and an architecture flag
    given with another value than the checkpoint's is a conflict.
    """
    check_seed(args.seed, offset=BATCH_SEED_OFFSET)
    check_device(args.device)
    given = {name: getattr(args, _dest(name)) for name in ARCHITECTURE if getattr(args, _dest(name)) is not None}
    prepared = is_prepared(args.text_file)
    if prepared:
        require(args.tokenizer is None and args.val_split == 0 and args.init is None,
                f"{args.text_file} was prepared with its tokenizer and validation split; drop --tokenizer, "
                "--val-split and --init (set the first two in mygpt prepare)")
    invocation = Invocation(args.device, args.seed, builtin=args.text_file is None)
    if args.init is None:  # a new model: the tokenizer sets the vocabulary (Plan.vocab_from_data)
        model = GPTConfig(vocab_size=1, dropout=args.dropout, **given)
        tokenizer, seq_len = args.tokenizer or "char", None
    else:
        model, tokenizer, weights, seq_len = _init(args.init, given, args, args.tokenizer)
        invocation = dataclasses.replace(invocation, init=args.init, init_weights=weights)
    training = train_config(args, seq_len)
    data = PreparedCorpus(args.text_file) if prepared else TextCorpus(
        args.text_file, tokenizer, args.num_merges, args.bpe_train_bytes, args.val_split)
    resume = None if args.resume is None else read_checkpoint(args.resume)
    plan = Plan(model, training, data, args.output, resume, args.resume or "the checkpoint",
                vocab_from_data=args.init is None)
    return plan, invocation


def _dest(name: str) -> str:
    """The ``Namespace`` attribute of config field ``name`` (``--norm`` is ``norm``)."""
    return flag(name).removeprefix("--").replace("-", "_")


def train_config(args: argparse.Namespace, seq_len: int | None = None) -> TrainConfig:
    """The training settings of the flags; --steps/--print-every not given are the book's values for a text
    file, shorter ones for the built-in job; --seq-len not given is ``seq_len`` (fine-tuning's, from the
    checkpoint) or the book's."""
    defaults = {**(BUILTIN_STEPS if args.text_file is None else BOOK_STEPS),
                "seq_len": _default(TrainConfig, "seq_len") if seq_len is None else seq_len}
    names = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in NO_FLAG]
    values = {name: getattr(args, name) for name in names}
    values.update({name: value if values[name] is None else values[name] for name, value in defaults.items()})
    return TrainConfig(**values, seed=args.seed + BATCH_SEED_OFFSET)


def _init(path: str, given: dict, args: argparse.Namespace, tokenizer_kind: str | None):
    """``(model config, tokenizer, weights, seq_len)`` of ``--init``: fine-tuning keeps the checkpoint's
    shape and tokenizer, so a flag that asks for another is refused, naming the value that works. The
    --seq-len it defaults to is the one the checkpoint was trained with, else the book's 64 cut to the
    checkpoint's context window; a --seq-len beyond that window is refused."""
    ckpt = read_checkpoint(path)
    model, tokenizer = rebuild(ckpt, path)
    config = dataclasses.replace(model.config, dropout=args.dropout)
    for name, value in given.items():
        kept = getattr(config, name)
        require(value == kept, lambda n, name=name, value=value, kept=kept: (
            f"{n(name)} {value} conflicts with --init {path} ({n(name)} {kept}); fine-tuning keeps the "
            f"checkpoint's architecture, so leave {n(name)} out (or give {n(name)} {kept})"))
    require(tokenizer_kind in (None, tokenizer.kind),
            f"--tokenizer {tokenizer_kind} conflicts with --init {path} (a {tokenizer.kind} tokenizer); "
            "fine-tuning keeps the checkpoint's tokenizer, so leave --tokenizer out")
    window = config.max_seq_len
    require(args.seq_len is None or args.seq_len <= window, lambda n: (
        f"{n('seq_len')} {args.seq_len} exceeds the context window of --init {path} ({n('max_seq_len')} "
        f"{window}, which fine-tuning keeps); use {n('seq_len')} {window} or less, or leave it out"))
    state = ckpt.get("training_state")
    trained = state.get("train_config", {}).get("seq_len") if isinstance(state, dict) else None
    if not (isinstance(trained, int) and 1 <= trained <= window):
        trained = min(_default(TrainConfig, "seq_len"), window)
    return config, tokenizer, model.state_dict(), trained


def _train_command(args: argparse.Namespace) -> None:
    """parse -> configs -> preflight -> train -> report, in this process or as one of the processes
    ``torchrun`` started (see ``distributed``), holding the output's lock (one run per output at a time)."""
    plan, invocation = resolve(args)
    world, device = init_world(invocation.device)
    finished = False
    try:
        with main_only_stdout(world):
            run = check_run(plan, device, world, log=lambda line: print(line, flush=True))
            with run_outputs(plan.output, enabled=world.is_main):
                model = _build_model(run, invocation)
                _print_header(run, invocation, model)
                train_checked(model, run, progress=sys.stderr.isatty())
            _report(run, invocation, model)
        finished = True
    finally:
        close_world(world, finished)
    if world.size > 1:
        _leave_now()


def _leave_now() -> None:
    """End a finished process of a ``torchrun`` job without the interpreter's shutdown.

    With gloo (CPU), torch's worker threads can still be releasing their last tensors while Python
    shuts down; a thread that reaches for the GIL then is torn down and the process aborts (SIGABRT,
    "terminate called without an active exception"): about 1 run in 6 of a two-process job with torch
    2.13 on CPU, even in a 7-line script (pytorch/pytorch#179291 discusses the cause). By now every
    file is written and closed and every process has passed the last barrier, so nothing is lost.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _build_model(run: CheckedRun, invocation: Invocation) -> GPT:
    """The model to train, seeded with --seed (the book's 0), with the --init weights when fine-tuning."""
    set_seed(invocation.seed)
    model = GPT.from_config(run.model)
    if invocation.init_weights is not None:
        model.load_state_dict(invocation.init_weights)
    return model.to(run.device)


def _print_header(run: CheckedRun, invocation: Invocation, model: GPT) -> None:
    """The book's header (Ch.18-28), from the checked run."""
    training, config, data = run.training, run.model, run.data
    if data.source is not None:
        print(f"corpus:       {data.source}")
    if invocation.init is not None:
        print(f"init:         {invocation.init}")
    print(f"device:       {run.device}")
    print(f"precision:    {training.precision}")
    print(f"tokenizer:    {data.tokenizer.kind}")
    print(f"norm:         {config.norm_type}")
    print(f"position:     {config.position_type}")
    print(f"num_heads:    {config.num_heads}")
    print(f"num_kv_heads: {config.num_kv_heads}")
    print(f"corpus chars: {data.chars:,}")
    print(f"train chars:  {len(data.train):,}")
    if data.val is not None:
        print(f"val chars:    {len(data.val):,}")
    print(f"vocab_size:   {data.tokenizer.vocab_size}")
    print(f"params:       {model.num_params():,}")
    print(f"steps:        {training.steps}")
    print(f"schedule:     {training.schedule} (warmup={training.warmup})")
    print(f"max_grad_norm:{training.max_grad_norm}")
    changed = [f"{name}={getattr(settings, name)}" for settings, names in (
        (training, ("optimizer", "muon_lr")), (config, ("qk_norm", "relu_squared", "untied_head", "zero_init",
                                                        "logit_softcap")))
               for name in names if getattr(settings, name) != _default(type(settings), name)
               or (name == "muon_lr" and training.optimizer == "muon")]
    if changed:  # none in the book's runs, whose header stays as printed
        print(f"options:      {' '.join(changed)}")
    if training.checkpoint_every > 0:
        print(f"checkpoint_every: {training.checkpoint_every}")
    if run.plan.resume is not None:
        print(f"resuming:     {run.plan.resume_path} after step {run.plan.resume['training_state']['step']}")
    processes, parts = run.world.size, training.grad_accum
    if parts > 1 or processes > 1:
        print(f"batch:        {training.batch_size} = {processes} process(es) x {parts} micro-batch(es) "
              f"x {training.batch_size // (processes * parts)}")


def _report(run: CheckedRun, invocation: Invocation, model: GPT) -> None:
    """Where the checkpoint went; after the built-in job, a sample and the command that makes more."""
    output, training = run.plan.output, run.training
    print()
    print(f"saved checkpoint to {output}")
    if invocation.builtin and run.world.is_main:
        print(f"\nsample (prompt {BUILTIN_PROMPT!r}, seed 0, top-k 10):\n")
        print(sample(model, run.data.tokenizer, BUILTIN_PROMPT, run.device, max_new_tokens=200, temperature=1.0,
                     top_k=10, seed=0, precision=training.precision, fast=training.fast))
        print(f"\nmore: mygpt generate --checkpoint {output} --prompt {BUILTIN_PROMPT!r}")
