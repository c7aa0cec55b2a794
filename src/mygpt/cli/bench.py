"""``mygpt bench``: throughput of the exact and fast paths and of Hugging Face ``generate``, side by side."""

import argparse
import json
import sys

from ..bench.decoding import SHAPES
from ..bench.throughput import format_table, run
from .checks import check_device


def _bench_command(args: argparse.Namespace) -> None:
    check_device(args.device)
    result = run(quick=args.quick, device=args.device, hf_only=args.hf_only, compile_default=args.compile,
                 decoding_only=args.decoding_only, decoding_configs=args.decoding_config,
                 decoding_rounds=args.rounds,
                 log=lambda line: print(f"mygpt bench: {line}", file=sys.stderr, flush=True))
    print(json.dumps(result) if args.json else format_table(result))
    sys.stdout.flush()


def add_parser(sub) -> None:
    """Register ``mygpt bench`` on the CLI's sub-command parsers."""
    b = sub.add_parser("bench", help="Measure training and sampling throughput, exact vs fast path.",
                       description="Measures, in one process, training tokens/s of the exact, fast and "
                                   "fast+bf16 paths at the book's default model and a larger one (C=384, 6 "
                                   "layers, T=256), their share of the measured matmul peak, and sampling "
                                   "speed with and without the KV cache, and decoding against Hugging Face "
                                   "and llama.cpp. Takes 5-10 minutes on a 2-core CPU; "
                                   "--quick takes seconds.")
    b.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    b.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"],
                   help="Device to measure. 'auto' picks cuda → mps → cpu in that order.")
    b.add_argument("--quick", action="store_true",
                   help="Tiny models and few steps: checks that the benchmark runs, measures nothing useful.")
    b.add_argument("--hf-only", action="store_true",
                   help="Only the sampling comparison with Hugging Face generate (needs transformers).")
    b.add_argument("--decoding-only", action="store_true",
                   help="Only the decoding table: mygpt generate --fast (fp32, bf16 and int8 weights), Hugging "
                        "Face generate and llama.cpp on the GGUF export, side by side on the same weights, at "
                        "C=384/6 layers and GPT-2-124M shapes (each where installed; CPU only).")
    b.add_argument("--decoding-config", action="append", choices=list(SHAPES), metavar="CONFIG",
                   help=f"Measure decoding only at this shape ({', '.join(SHAPES)}); repeatable. Default: all "
                        "(the 124M model's rows take most of the time).")
    b.add_argument("--rounds", type=int, default=None, metavar="N",
                   help="Alternating rounds of the decoding table (at least 1). Default: 3 (1 with --quick).")
    b.add_argument("--compile", action="store_true",
                   help="Also time compiling the transformer block (cold and warm cache) at the default model "
                        "and its saving per step; records them for mygpt train --fast's compile decision.")
    b.set_defaults(func=_bench_command)
