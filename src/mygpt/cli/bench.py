"""``mygpt bench``: throughput of the exact and fast paths and of Hugging Face ``generate``, side by side."""

import argparse
import json
import sys

from ..bench.throughput import format_table, run
from .checks import check_device


def _bench_command(args: argparse.Namespace) -> None:
    check_device(args.device)
    result = run(quick=args.quick, device=args.device, hf_only=args.hf_only, compile_default=args.compile,
                 log=lambda line: print(f"mygpt bench: {line}", file=sys.stderr, flush=True))
    print(json.dumps(result) if args.json else format_table(result))
    sys.stdout.flush()


def add_parser(sub) -> None:
    """Register ``mygpt bench`` on the CLI's sub-command parsers."""
    b = sub.add_parser("bench", help="Measure training and sampling throughput, exact vs fast path.",
                       description="Measures, in one process, training tokens/s of the exact, fast and "
                                   "fast+bf16 paths at the book's default model and a larger one (C=384, 6 "
                                   "layers, T=256), their share of the measured matmul peak, and sampling "
                                   "speed with and without the KV cache. Takes 2-5 minutes on a 2-core CPU; "
                                   "--quick takes seconds.")
    b.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    b.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"],
                   help="Device to measure. 'auto' picks cuda → mps → cpu in that order.")
    b.add_argument("--quick", action="store_true",
                   help="Tiny models and few steps: checks that the benchmark runs, measures nothing useful.")
    b.add_argument("--hf-only", action="store_true",
                   help="Only the sampling comparison with Hugging Face generate (needs transformers).")
    b.add_argument("--compile", action="store_true",
                   help="Also time compiling the transformer block (cold and warm cache) at the default model "
                        "and its saving per step; records them for mygpt train --fast's compile decision.")
    b.set_defaults(func=_bench_command)
