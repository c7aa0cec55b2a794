"""The ``mygpt`` command line: ``train`` and ``generate`` (CLI.md)."""

import argparse
import sys
import time

import torch

from . import bench
from .checkpoint import load_checkpoint
from .cli_checks import check_data, check_generate_args, check_prompt, check_train_args
from .corpus import load_corpus
from .demo import run_demo
from .errors import MyGPTError
from .fast import make_optimizer, prepare_fast
from .generate import generate
from .model import GPT
from .tokenizer import BPETokenizer, CharTokenizer
from .train import train
from .utils import pick_device, set_seed

DEVICE_HELP = "Compute device. 'auto' picks cuda → mps → cpu in that order."
PRECISION_HELP = ("Forward-pass precision. fp32 (default) is bit-deterministic; "
                  "bf16 uses torch.autocast.")
TRAIN_DESCRIPTION = ("Without text_file, trains on a built-in corpus (Python's documentation, no "
                     "network needed) for 1500 steps, about a minute on two CPU cores, then prints a "
                     "sample. text_file 'shakespeare' downloads Tiny Shakespeare once into "
                     "$MYGPT_CACHE (default ~/.cache/mygpt); an existing file of that name wins.")

# The book's defaults for --steps/--print-every apply whenever a text file is given; the built-in
# job is shorter so that the first run finishes in about a minute on a laptop CPU.
BOOK_STEPS = {"steps": 2000, "print_every": 500}
BUILTIN_STEPS = {"steps": 1500, "print_every": 250}
BUILTIN_PROMPT = "The "
FAST_HELP = ("Use the fast path (SDPA, fused kernels, torch.compile where it pays, KV-cache sampling). "
             "Same function, not bit-identical to the book's numbers.")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mygpt", description="Tiny GPT trainer and text generator.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="Train a GPT on a plain-text file.", description=TRAIN_DESCRIPTION)
    t.add_argument("text_file", nargs="?", default=None, help="Path to a UTF-8 text file.")
    t.add_argument("--output", default="model.ckpt", help="Checkpoint output path.")
    t.add_argument("--steps", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--seq-len", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--embed-dim", type=int, default=64)
    t.add_argument("--num-heads", type=int, default=4)
    t.add_argument("--num-layers", type=int, default=4)
    t.add_argument("--max-seq-len", type=int, default=64)
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--print-every", type=int, default=None)
    t.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"], help=DEVICE_HELP)
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
    t.set_defaults(func=_train_command)

    g = sub.add_parser("generate", help="Generate text from a checkpoint.")
    g.add_argument("--checkpoint", required=True)
    g.add_argument("--prompt", required=True)
    g.add_argument("--max-new-tokens", type=int, default=200)
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=int, default=10)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"], help=DEVICE_HELP)
    g.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help=PRECISION_HELP)
    g.add_argument("--fast", action="store_true", help=FAST_HELP)
    g.set_defaults(func=_generate_command)

    d = sub.add_parser("demo",
                       help="Print a chapter's demo of the book (default: Ch.13, forward pass with loss).")
    d.add_argument("--chapter", type=int, default=13, choices=range(2, 14), metavar="N",
                   help="Book chapter, 2-13.")
    d.set_defaults(func=_demo_command)
    bench.add_parser(sub)
    return parser


def _build_tokenizer(args, text: str):
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


def _fill_step_defaults(args) -> None:
    """--steps/--print-every not given: the book's values for a text file, shorter ones for the built-in job."""
    for name, value in (BUILTIN_STEPS if args.text_file is None else BOOK_STEPS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def _train_command(args) -> None:
    builtin = args.text_file is None
    _fill_step_defaults(args)
    check_train_args(args)
    device = pick_device(args.device)
    text, source = load_corpus(args.text_file)
    if builtin:
        print(f"corpus:       {source}")
    tokenizer, data = _build_tokenizer(args, text)
    data = data.to(device)
    val_data = None
    if args.val_split > 0:
        n_train = int((1.0 - args.val_split) * len(data))
        data, val_data = data[:n_train], data[n_train:]
    check_data(data, val_data, args)

    set_seed(0)
    num_kv_heads = args.num_kv_heads if args.num_kv_heads is not None else args.num_heads
    model = GPT(vocab_size=tokenizer.vocab_size, embed_dim=args.embed_dim, num_heads=args.num_heads,
                num_kv_heads=num_kv_heads, num_layers=args.num_layers, max_seq_len=args.max_seq_len,
                dropout=args.dropout, norm_type=args.norm, position_type=args.position).to(device)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = make_optimizer(model, args.lr, fast=args.fast)

    print(f"device:       {device}")
    print(f"precision:    {args.precision}")
    print(f"tokenizer:    {args.tokenizer}")
    print(f"norm:         {args.norm}")
    print(f"position:     {args.position}")
    print(f"num_heads:    {args.num_heads}")
    print(f"num_kv_heads: {num_kv_heads}")
    print(f"corpus chars: {len(text):,}")
    print(f"train chars:  {len(data):,}")
    if val_data is not None:
        print(f"val chars:    {len(val_data):,}")
    print(f"vocab_size:   {tokenizer.vocab_size}")
    print(f"params:       {n_params:,}")
    print(f"steps:        {args.steps}")
    print(f"schedule:     {args.schedule} (warmup={args.warmup})")
    print(f"max_grad_norm:{args.max_grad_norm}")
    if args.checkpoint_every > 0:
        print(f"checkpoint_every: {args.checkpoint_every}")

    train(model, tokenizer, data, val_data, optimizer, steps=args.steps, batch_size=args.batch_size,
          seq_len=args.seq_len, lr=args.lr, output=args.output, precision=args.precision,
          schedule=args.schedule, warmup=args.warmup, max_grad_norm=args.max_grad_norm,
          print_every=args.print_every, val_every=args.val_every, checkpoint_every=args.checkpoint_every,
          progress=sys.stderr.isatty(), fast=args.fast)
    print()
    print(f"saved checkpoint to {args.output}")
    if builtin:
        print(f"\nsample (prompt {BUILTIN_PROMPT!r}, seed 0, top-k 10):\n")
        print(_sample(model, tokenizer, BUILTIN_PROMPT, device, max_new_tokens=200, temperature=1.0,
                      top_k=10, seed=0, precision=args.precision, fast=args.fast))
        print(f"\nmore: mygpt generate --checkpoint {args.output} --prompt {BUILTIN_PROMPT!r}")


def _sample(model, tokenizer, prompt: str, device: torch.device, *, max_new_tokens: int,
            temperature: float, top_k: int, seed: int, precision: str, fast: bool = False) -> str:
    """Seed, encode the prompt, sample (under bf16 autocast when asked) and decode prompt + continuation."""
    set_seed(seed)
    ids = tokenizer.encode(prompt).unsqueeze(0).to(device)
    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16)
                if precision == "bf16" else torch.autocast(device_type=device.type, enabled=False))
    with autocast:
        out = generate(model, ids, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                       use_cache=fast)
    return tokenizer.decode(out[0])


def _generate_command(args) -> None:
    check_generate_args(args)
    device = pick_device(args.device)
    model, tokenizer = load_checkpoint(args.checkpoint)
    check_prompt(args.prompt, tokenizer.chars)
    print(f"device: {device}\n")
    model.to(device)
    if args.fast:
        prepare_fast(model, compile_model=False, precision=args.precision)
    print(_sample(model, tokenizer, args.prompt, device, max_new_tokens=args.max_new_tokens,
                  temperature=args.temperature, top_k=args.top_k, seed=args.seed, precision=args.precision,
                  fast=args.fast))


def _demo_command(args) -> None:
    run_demo(args.chapter)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the chosen sub-command.

    Problems the user can fix end the program with one line on stderr and exit status 2.
    """
    args = _build_parser().parse_args(argv)
    try:
        args.func(args)
    except MyGPTError as err:
        print(f"mygpt: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("mygpt: interrupted; the last saved checkpoint (if any) is intact", file=sys.stderr)
        sys.exit(130)
