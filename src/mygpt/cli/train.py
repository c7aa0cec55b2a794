"""``mygpt train``: the book's command (Ch.18-28), plus a built-in corpus and a few conveniences."""

import argparse
import dataclasses
import shlex
import sys
import time

from ..checkpoint import read_checkpoint
from ..config import GPTConfig, TrainConfig, field_help
from ..data.corpus import load_corpus
from ..data.shards import is_prepared, load_prepared
from ..errors import ConfigError, TrainingStopped
from ..files.outputs import check_disk_space
from ..model import GPT
from ..tokenizer import CharTokenizer, encode_corpus, train_tokenizer
from ..train.distributed import World, close_world, init_world, main_only_stdout
from ..train.guards import run_outputs
from ..train.loop import train
from ..train.memory import check_training_memory, count_parameters
from ..train.resume import check_resume, fingerprint, resumable_state
from ..utils import set_seed
from .checks import check_corpus_args, check_device, check_seed, check_val_every
from .common import DEVICE_HELP, DEVICES, FAST_HELP, PRECISION_HELP, HelpFormatter, add_below, flag, sample
from .finetune import init_from

TRAIN_DESCRIPTION = ("Without text_file, trains on a built-in corpus (Python's documentation, no "
                     "network needed) for 1500 steps, about a minute on two CPU cores, then prints a "
                     "sample. text_file 'shakespeare' downloads Tiny Shakespeare once into "
                     "$MYGPT_CACHE (default ~/.cache/mygpt); an existing file of that name wins. "
                     "--tokenizer bytebpe trains GPT-2's byte-level BPE (--num-merges merges; needs "
                     "mygpt[hf]), which encodes any text.")

TRAIN_EPILOG = ("text_file may also be a folder written by `mygpt prepare` (corpora bigger than memory). "
                "`torchrun --nproc_per_node N -m mygpt train ...` trains on N processes (GPUs), "
                "--batch-size being the batch of all of them together.")

# The book's defaults for --steps/--print-every apply whenever a text file is given; the built-in
# job is shorter so that the first run finishes in about a minute on a laptop CPU.
BOOK_STEPS = {"steps": 2000, "print_every": 500}
BUILTIN_STEPS = {"steps": 1500, "print_every": 250}
BUILTIN_PROMPT = "The "
# Weights plus AdamW's two moments, in fp32: what a checkpoint with its training state holds per parameter.
CHECKPOINT_BYTES_PER_PARAM = 12
SEED_HELP = ("Seed of the model's initial weights (0 to 2**64-43); the batches and dropout draw from seed + 42. "
             "Default: 0 (the book's seeds, 0 and 42).")


def _default(config_class, name: str):
    return next(f.default for f in dataclasses.fields(config_class) if f.name == name)


def _help(config_class, name: str, default=None) -> str:
    """A config field's help for its flag, naming other settings by their flags, with the default."""
    default = _default(config_class, name) if default is None else default
    return f"{field_help(config_class, name, flag)} Default: {default}."


def add_parser(sub) -> None:
    """Register ``mygpt train`` (options in the book's order, then the ones mygpt adds)."""
    t = sub.add_parser("train", help="Train a GPT on a plain-text file.", description=TRAIN_DESCRIPTION,
                       epilog=TRAIN_EPILOG, formatter_class=HelpFormatter)
    t.add_argument("text_file", nargs="?", default=None, help="Path to a UTF-8 text file.")
    t.add_argument("--output", default="model.ckpt", help="Checkpoint output path.")
    add_below(t, "--steps", type=int, default=None,
              help=_help(TrainConfig, "steps", "2000 (1500 for the built-in corpus)"))
    for name, kind, cls in (("batch_size", int, TrainConfig), ("seq_len", int, TrainConfig),
                            ("lr", float, TrainConfig), ("embed_dim", int, GPTConfig),
                            ("num_heads", int, GPTConfig), ("num_layers", int, GPTConfig),
                            ("max_seq_len", int, GPTConfig), ("dropout", float, GPTConfig)):
        add_below(t, flag(name), type=kind, default=_default(cls, name), help=_help(cls, name))
    add_below(t, "--print-every", type=int, default=None,
              help=_help(TrainConfig, "print_every", "500 (250 for the built-in corpus)"))
    t.add_argument("--device", default="auto", choices=DEVICES, help=DEVICE_HELP)
    t.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help=PRECISION_HELP)
    t.add_argument("--val-split", type=float, default=0.0,
                   help="Fraction of the corpus held out as validation data (0.0 = none, default).")
    t.add_argument("--val-every", type=int, default=0,
                   help="Print val loss every N steps. Requires --val-split > 0.")
    t.add_argument("--schedule", default="constant", choices=["constant", "cosine"],
                   help="LR schedule. 'constant' (default) holds at --lr; 'cosine' linearly warms up "
                        "over --warmup steps then cosine-decays to 0.")
    t.add_argument("--warmup", type=int, default=0,
                   help="Warmup steps for the cosine schedule (no effect if --schedule=constant).")
    t.add_argument("--max-grad-norm", type=float, default=0.0,
                   help="Gradient-norm clip threshold. 0.0 (default) disables clipping.")
    t.add_argument("--norm", default="layer", choices=["layer", "rms"],
                   help="Normalisation: 'layer' (default; LayerNorm, Ch.10) or 'rms' (RMSNorm, Llama default).")
    t.add_argument("--position", default="learned", choices=["learned", "rope"],
                   help="Position embedding: 'learned' (default; nn.Embedding, Ch.12) or 'rope' "
                        "(rotary, Llama default).")
    t.add_argument("--num-kv-heads", type=int, default=None,
                   help="Number of K/V heads for grouped-query attention. Default: same as --num-heads "
                        "(full MHA, Ch.8). Must divide --num-heads.")
    # The book's lines stay as printed; TRAIN_DESCRIPTION tells of the third choice, bytebpe.
    t.add_argument("--tokenizer", default="char", choices=["char", "bpe", "bytebpe"], metavar="{char,bpe}",
                   help="Tokenizer to use. 'char' (default; CharTokenizer, Ch.16) or 'bpe' (BPETokenizer, "
                        "Ch.23). BPE training runs on the corpus before model training.")
    t.add_argument("--num-merges", type=int, default=1024,
                   help="Number of BPE merges (only meaningful when --tokenizer=bpe). Default 1024.")
    t.add_argument("--bpe-train-bytes", type=int, default=0,
                   help="Train BPE on the first N bytes of the corpus (0 = full corpus, default). Useful "
                        "when the BPE training cost on the full corpus is too high; the encoder still runs "
                        "on the full corpus and skips characters that did not appear in the training slice.")
    t.add_argument("--checkpoint-every", type=int, default=0,
                   help="Save the checkpoint every N steps (0 = save only at end, default). Atomic write: "
                        "a Ctrl-C mid-save does not corrupt the file.")
    t.add_argument("--fast", action="store_true", help=FAST_HELP)
    t.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    t.add_argument("--resume", metavar="CKPT", default=None,
                   help="Continue the run saved in CKPT (a checkpoint of `mygpt train`, e.g. one left by "
                        "Ctrl-C or --checkpoint-every) exactly where it stopped; give the same text and "
                        "flags as that run (--steps may grow under the constant schedule).")
    t.add_argument("--init", metavar="CHECKPOINT", default=None,
                   help="Fine-tune: start from this checkpoint's weights, keeping its architecture and "
                        "tokenizer (e.g. one made by `mygpt import-hf`). --dropout still applies.")
    t.add_argument("--grad-accum", type=int, default=1, help=_help(TrainConfig, "grad_accum"))
    t.set_defaults(func=_train_command)


def _fill_step_defaults(args: argparse.Namespace) -> None:
    """--steps/--print-every not given: the book's values for a text file, shorter ones for the built-in job."""
    for name, value in (BUILTIN_STEPS if args.text_file is None else BOOK_STEPS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def _configs(args: argparse.Namespace) -> tuple[GPTConfig, TrainConfig]:
    """The model and training configs the flags describe; the vocabulary size comes later, from the text."""
    model = GPTConfig(vocab_size=1, embed_dim=args.embed_dim, num_heads=args.num_heads,
                      num_layers=args.num_layers, max_seq_len=args.max_seq_len, dropout=args.dropout,
                      norm_type=args.norm, position_type=args.position, num_kv_heads=args.num_kv_heads)
    training = TrainConfig(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr,
                           precision=args.precision, schedule=args.schedule, warmup=args.warmup,
                           max_grad_norm=args.max_grad_norm, val_every=args.val_every,
                           print_every=args.print_every, checkpoint_every=args.checkpoint_every,
                           seed=args.seed + 42, fast=args.fast, grad_accum=args.grad_accum)
    if args.init is None:  # with --init the checkpoint's context window counts (checked once it is read)
        training.check_model(model)
    return model, training


def build_tokenizer(args: argparse.Namespace, text: str):
    """``(tokenizer, ids of text)`` from the options ``--tokenizer``, ``--num-merges``, ``--bpe-train-bytes``.

    Char tokenizer, or a (byte-level) BPE tokenizer trained on the first ``--bpe-train-bytes``
    characters, with its progress printed.
    """
    if args.tokenizer == "char":
        tokenizer = CharTokenizer.from_text(text)
        return tokenizer, tokenizer.encode(text)
    n = args.bpe_train_bytes
    train_slice = text[:n] if 0 < n < len(text) else text
    name = "BPE" if args.tokenizer == "bpe" else "byte-level BPE"
    print(f"training {name} tokenizer ({args.num_merges} merges, {len(train_slice):,} chars)…", flush=True)
    start = time.time()
    tokenizer = train_tokenizer(args.tokenizer, train_slice, args.num_merges)
    print(f"  {name} trained in {time.time() - start:.1f}s", flush=True)
    print(f"encoding corpus ({len(text):,} chars)…", flush=True)
    start = time.time()
    data = encode_corpus(tokenizer, text)
    print(f"  corpus encoded in {time.time() - start:.1f}s", flush=True)
    return tokenizer, data


def _train_command(args: argparse.Namespace) -> None:
    """Check the options, then train while holding the output's lock (one run per output at a time),
    in this process or as one of the processes ``torchrun`` started (see ``distributed``)."""
    _fill_step_defaults(args)
    model_config, train_config = _configs(args)
    check_corpus_args(args)
    if not is_prepared(args.text_file):
        check_val_every(args)
    check_seed(args.seed, offset=42)
    check_device(args.device)
    resume = _read_resume(args.resume)
    world, device = init_world(args.device)
    inputs = {args.text_file: "the training text", args.resume: "the --resume checkpoint",
              args.init: "the --init checkpoint"}
    inputs.pop(args.output if args.output in (args.resume, args.init) else None, None)  # continuing in place
    finished = False
    try:
        with main_only_stdout(world), run_outputs(args.output, inputs, "--output", enabled=world.is_main):
            _train_locked(args, model_config, train_config, resume, world, device)
        finished = True
    finally:
        close_world(world, finished)


def _text_data(args: argparse.Namespace, model_config: GPTConfig, train_config: TrainConfig) -> tuple:
    """``(tokenizer, train, val, corpus chars, model config, --init weights)`` from a text file (the book's way)."""
    text, source = load_corpus(args.text_file)
    if args.text_file is None:
        print(f"corpus:       {source}")
    weights = None
    if args.init is None:
        tokenizer, data = build_tokenizer(args, text)
    else:
        model_config, tokenizer, data, weights = init_from(args, text)
        train_config.check_model(model_config)
        print(f"init:         {args.init}")
    val_data = None
    if args.val_split > 0:
        n_train = int((1.0 - args.val_split) * len(data))
        data, val_data = data[:n_train], data[n_train:]
    return tokenizer, data, val_data, len(text), model_config, weights


def _prepared_data(args: argparse.Namespace, model_config: GPTConfig, train_config: TrainConfig) -> tuple:
    """The same, read window by window from a folder written by ``mygpt prepare``."""
    if args.tokenizer != "char" or args.val_split > 0 or args.init is not None:
        raise ConfigError(f"{args.text_file} was prepared with its tokenizer and validation split; drop "
                          "--tokenizer, --val-split and --init (set the first two in mygpt prepare)")
    tokenizer, meta, data, val_data = load_prepared(args.text_file)
    print(f"corpus:       {args.text_file} (prepared, {meta['tokens']:,} tokens)")
    args.tokenizer = meta["tokenizer"]
    return tokenizer, data, val_data, meta["chars"], model_config, None


def _train_locked(args: argparse.Namespace, model_config: GPTConfig, train_config: TrainConfig,
                  resume: dict | None, world: World, device) -> None:
    builtin = args.text_file is None
    train_config.check_parts(world.size)
    load = _prepared_data if is_prepared(args.text_file) else _text_data
    tokenizer, data, val_data, n_chars, model_config, weights = load(args, model_config, train_config)
    data, val_data = data.to(device), None if val_data is None else val_data.to(device)
    train_config.check_data(len(data), None if val_data is None else len(val_data))

    if weights is None:
        model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)
    n_params = count_parameters(model_config)
    check_training_memory(model_config, train_config, device, n_params)
    check_disk_space(args.output, CHECKPOINT_BYTES_PER_PARAM * n_params)
    set_seed(args.seed)
    model = GPT.from_config(model_config)
    if weights is not None:
        model.load_state_dict(weights)
    model.to(device)
    if resume is not None:
        check_resume(resume, model, tokenizer, train_config, (fingerprint(data), fingerprint(val_data)),
                     args.resume, world.size)

    print(f"device:       {device}")
    print(f"precision:    {args.precision}")
    print(f"tokenizer:    {args.tokenizer}")
    print(f"norm:         {args.norm}")
    print(f"position:     {args.position}")
    print(f"num_heads:    {args.num_heads}")
    print(f"num_kv_heads: {model_config.num_kv_heads}")
    print(f"corpus chars: {n_chars:,}")
    print(f"train chars:  {len(data):,}")
    if val_data is not None:
        print(f"val chars:    {len(val_data):,}")
    print(f"vocab_size:   {tokenizer.vocab_size}")
    print(f"params:       {model.num_params():,}")
    print(f"steps:        {args.steps}")
    print(f"schedule:     {args.schedule} (warmup={args.warmup})")
    print(f"max_grad_norm:{args.max_grad_norm}")
    if args.checkpoint_every > 0:
        print(f"checkpoint_every: {args.checkpoint_every}")
    if resume is not None:
        print(f"resuming:     {args.resume} after step {resume['training_state']['step']}")

    if args.grad_accum > 1 or world.size > 1:
        print(f"batch:        {args.batch_size} = {world.size} process(es) x {args.grad_accum} micro-batch(es) "
              f"x {args.batch_size // (world.size * args.grad_accum)}")
    try:
        train(model, tokenizer, data, val_data, train_config, args.output, progress=sys.stderr.isatty(),
              resume=resume, world=world)
    except TrainingStopped as stop:
        _report_stop(stop, args)
    print()
    print(f"saved checkpoint to {args.output}")
    if builtin and world.is_main:
        print(f"\nsample (prompt {BUILTIN_PROMPT!r}, seed 0, top-k 10):\n")
        print(sample(model, tokenizer, BUILTIN_PROMPT, device, max_new_tokens=200, temperature=1.0,
                     top_k=10, seed=0, precision=args.precision, fast=args.fast))
        print(f"\nmore: mygpt generate --checkpoint {args.output} --prompt {BUILTIN_PROMPT!r}")


def _read_resume(path: str | None) -> dict | None:
    """The checkpoint ``--resume`` names, checked to hold a resumable training state."""
    if path is None:
        return None
    ckpt = read_checkpoint(path)
    resumable_state(ckpt, path)
    return ckpt


def _report_stop(stop: TrainingStopped, args: argparse.Namespace) -> None:
    """Tell how the run stopped and the command that resumes it; exit 130 (SIGINT) or 143 (SIGTERM)."""
    print(f"mygpt: stopped by {stop.signal_name} after step {stop.step} of {args.steps}; saved a resumable "
          f"checkpoint to {stop.path}", file=sys.stderr)
    print(f"resume with: {resume_command(args.argv, stop.path)}", file=sys.stderr, flush=True)
    sys.exit(stop.exit_status)


def resume_command(argv: list[str], checkpoint: str) -> str:
    """The command line that was run, with ``--resume checkpoint`` in place of any earlier --resume."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--resume":
            skip = True
        elif not arg.startswith("--resume="):
            kept.append(arg)
    return shlex.join(["mygpt", *kept, "--resume", checkpoint])
