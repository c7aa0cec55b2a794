"""``mygpt train``: the book's command (Ch.18-28), plus a built-in corpus and a few conveniences."""

import argparse
import dataclasses
import sys
import time

from ..config import GPTConfig, TrainConfig, field_help
from ..corpus import load_corpus
from ..data import is_prepared, load_prepared
from ..distributed import World, close_world, init_world, main_only_stdout
from ..errors import ConfigError
from ..model import GPT
from ..tokenizer import BPETokenizer, CharTokenizer
from ..train import train
from ..utils import set_seed
from .checks import check_corpus_args, check_device, check_output_path
from .common import DEVICE_HELP, DEVICES, FAST_HELP, PRECISION_HELP, HelpFormatter, add_below, flag, sample

TRAIN_DESCRIPTION = ("Without text_file, trains on a built-in corpus (Python's documentation, no "
                     "network needed) for 1500 steps, about a minute on two CPU cores, then prints a "
                     "sample. text_file 'shakespeare' downloads Tiny Shakespeare once into "
                     "$MYGPT_CACHE (default ~/.cache/mygpt); an existing file of that name wins.")

TRAIN_EPILOG = ("text_file may also be a folder written by `mygpt prepare` (corpora bigger than memory). "
               "`torchrun --nproc_per_node N -m mygpt train ...` trains on N processes (GPUs), "
               "--batch-size being the batch of all of them together.")

# The book's defaults for --steps/--print-every apply whenever a text file is given; the built-in
# job is shorter so that the first run finishes in about a minute on a laptop CPU.
BOOK_STEPS = {"steps": 2000, "print_every": 500}
BUILTIN_STEPS = {"steps": 1500, "print_every": 250}
BUILTIN_PROMPT = "The "
SEED_HELP = ("Seed of the model's initial weights; the batches and dropout draw from seed + 42. "
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
    t.add_argument("--tokenizer", default="char", choices=["char", "bpe"],
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
    training.check_model(model)
    return model, training


def _build_tokenizer(args: argparse.Namespace, text: str):
    """Char tokenizer, or a BPE tokenizer trained on the first ``--bpe-train-bytes`` characters."""
    if args.tokenizer == "char":
        tokenizer = CharTokenizer.from_text(text)
        return tokenizer, tokenizer.encode(text)
    n = args.bpe_train_bytes
    train_slice = text[:n] if 0 < n < len(text) else text
    print(f"training BPE tokenizer ({args.num_merges} merges, {len(train_slice):,} chars)…", flush=True)
    start = time.time()
    tokenizer = BPETokenizer.from_corpus(train_slice, args.num_merges)
    print(f"  BPE trained in {time.time() - start:.1f}s", flush=True)
    print(f"encoding corpus ({len(text):,} chars)…", flush=True)
    start = time.time()
    data = tokenizer.encode_corpus(text)
    print(f"  corpus encoded in {time.time() - start:.1f}s", flush=True)
    return tokenizer, data


def _text_data(args: argparse.Namespace, device) -> tuple:
    """``(tokenizer, train, val, corpus chars, tokenizer kind)`` from a text file (the book's way)."""
    text, source = load_corpus(args.text_file)
    if args.text_file is None:
        print(f"corpus:       {source}")
    tokenizer, data = _build_tokenizer(args, text)
    data = data.to(device)
    val_data = None
    if args.val_split > 0:
        n_train = int((1.0 - args.val_split) * len(data))
        data, val_data = data[:n_train], data[n_train:]
    return tokenizer, data, val_data, len(text), args.tokenizer


def _prepared_data(args: argparse.Namespace, device) -> tuple:
    """``(tokenizer, train, val, corpus chars, tokenizer kind)`` memory-mapped from a prepared folder."""
    if args.tokenizer != "char" or args.val_split > 0:
        raise ConfigError(f"{args.text_file} was prepared with its tokenizer and validation split; drop "
                          "--tokenizer and --val-split (set them in mygpt prepare)")
    tokenizer, meta, data, val_data = load_prepared(args.text_file, device)
    print(f"corpus:       {args.text_file} (prepared, {meta['tokens']:,} tokens)")
    return tokenizer, data, val_data, meta["chars"], meta["tokenizer"]


def _train_command(args: argparse.Namespace) -> None:
    """Train in this process, or as one of the processes ``torchrun`` started (see ``distributed``)."""
    check_device(args.device)
    world, device = init_world(args.device)
    finished = False
    try:
        with main_only_stdout(world):
            _train(args, world, device)
        finished = True
    finally:
        close_world(world, finished)


def _train(args: argparse.Namespace, world: World, device) -> None:
    builtin = args.text_file is None
    _fill_step_defaults(args)
    model_config, train_config = _configs(args)
    train_config.check_parts(world.size)
    check_corpus_args(args)
    check_output_path(args.output)
    load = _prepared_data if is_prepared(args.text_file) else _text_data
    tokenizer, data, val_data, n_chars, kind = load(args, device)
    train_config.check_data(len(data), None if val_data is None else len(val_data))

    model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)
    set_seed(args.seed)
    model = GPT.from_config(model_config).to(device)

    print(f"device:       {device}")
    print(f"precision:    {args.precision}")
    print(f"tokenizer:    {kind}")
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

    if args.grad_accum > 1 or world.size > 1:
        print(f"batch:        {args.batch_size} = {world.size} process(es) x {args.grad_accum} micro-batch(es) "
              f"x {args.batch_size // (world.size * args.grad_accum)}")
    train(model, tokenizer, data, val_data, train_config, args.output, progress=sys.stderr.isatty(),
          world=world)
    print()
    print(f"saved checkpoint to {args.output}")
    if builtin and world.is_main:
        print(f"\nsample (prompt {BUILTIN_PROMPT!r}, seed 0, top-k 10):\n")
        print(sample(model, tokenizer, BUILTIN_PROMPT, device, max_new_tokens=200, temperature=1.0,
                     top_k=10, seed=0, precision=args.precision, fast=args.fast))
        print(f"\nmore: mygpt generate --checkpoint {args.output} --prompt {BUILTIN_PROMPT!r}")
