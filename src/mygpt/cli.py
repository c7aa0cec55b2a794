"""The ``mygpt`` command line: ``train`` and ``generate`` (CLI.md)."""

import argparse
import time

import torch

from . import bench
from .checkpoint import load_checkpoint
from .fast import make_optimizer, prepare_fast
from .generate import generate
from .model import GPT
from .tokenizer import BPETokenizer, CharTokenizer
from .train import train
from .utils import pick_device, set_seed

DEVICE_HELP = "Compute device. 'auto' picks cuda → mps → cpu in that order."
PRECISION_HELP = ("Forward-pass precision. fp32 (default) is bit-deterministic; "
                  "bf16 uses torch.autocast.")
FAST_HELP = ("Use the fast path (SDPA, fused kernels, torch.compile where it pays, KV-cache sampling). "
             "Same function, not bit-identical to the book's numbers.")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mygpt", description="Tiny GPT trainer and text generator.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="Train a GPT on a plain-text file.")
    t.add_argument("text_file", help="Path to a UTF-8 text file.")
    t.add_argument("--output", default="model.ckpt", help="Checkpoint output path.")
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--seq-len", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--embed-dim", type=int, default=64)
    t.add_argument("--num-heads", type=int, default=4)
    t.add_argument("--num-layers", type=int, default=4)
    t.add_argument("--max-seq-len", type=int, default=64)
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--print-every", type=int, default=500)
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


def _train_command(args) -> None:
    device = pick_device(args.device)
    with open(args.text_file) as f:
        text = f.read()
    tokenizer, data = _build_tokenizer(args, text)
    data = data.to(device)
    val_data = None
    if args.val_split > 0:
        n_train = int((1.0 - args.val_split) * len(data))
        data, val_data = data[:n_train], data[n_train:]

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
          fast=args.fast)
    print()
    print(f"saved checkpoint to {args.output}")


def _generate_command(args) -> None:
    device = pick_device(args.device)
    print(f"device: {device}\n")
    model, tokenizer = load_checkpoint(args.checkpoint)
    model.to(device)
    if args.fast:
        prepare_fast(model, compile_model=False, precision=args.precision)
    set_seed(args.seed)
    prompt = tokenizer.encode(args.prompt).unsqueeze(0).to(device)
    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16)
                if args.precision == "bf16" else torch.autocast(device_type=device.type, enabled=False))
    with autocast:
        out = generate(model, prompt, max_new_tokens=args.max_new_tokens,
                       temperature=args.temperature, top_k=args.top_k, use_cache=args.fast)
    print(tokenizer.decode(out[0]))


def main() -> None:
    """Parse ``sys.argv[1:]`` and run the chosen sub-command."""
    args = _build_parser().parse_args()
    args.func(args)
