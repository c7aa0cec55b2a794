"""What keeping the fast path's weight copies only inside one call costs (issue 17).

    OMP_NUM_THREADS=1 python benchmarks/weight_copies.py [--rounds 5] [--tokens 250]

Since the copies can go stale (fused AdamW does not bump parameters' version counters), they live only
inside ``kept_copies``: ``generate`` and ``estimate_val_loss`` make them once per call. This times, in
alternating rounds and in CPU time (``time.process_time``), on the README's sampling model (C=384, 6
layers, context 256):

* ``sample/call``: ``generate`` of ``--tokens`` new tokens with the KV cache, copies made in the call
  (what mygpt does now);
* ``sample/kept``: the same with copies made once before all calls (what mygpt did before, between
  optimizer steps);
* ``sample/live``: the same without copies (multiplying the live parameters, fused Q/K/V concatenated
  per step: a gradient-free forward outside ``kept_copies``);
* ``val/call`` and ``val/kept``: one ``estimate_val_loss`` (10 batches of 8 x 256), copies per call
  or kept.

Prints one JSON object: per case the median seconds and half-range, and same-round ratios to the
``kept`` case (median and range), with the machine, threads and load average.
"""

import argparse
import contextlib
import importlib
import json
import os
import statistics
import time

import torch

from mygpt import GPT, estimate_val_loss, set_seed
from mygpt.config import GPTConfig
from mygpt.fast import prepare_fast
from mygpt.fast.hardware import cpu_flags, cpu_name
from mygpt.fast.weight_copies import kept_copies
from mygpt.generate import generate


def _cases(model: GPT, prompt: torch.Tensor, data: torch.Tensor, tokens: int) -> dict:
    def sample() -> None:
        set_seed(0)
        generate(model, prompt, max_new_tokens=tokens, temperature=1.0, top_k=10, use_cache=True)

    def validate() -> None:
        set_seed(0)
        estimate_val_loss(model, data, 8, 256)

    def live() -> None:  # no copies at all
        with _no_copies(model):
            sample()

    return {"sample/call": (sample, False), "sample/kept": (sample, True), "sample/live": (live, False),
            "val/call": (validate, False), "val/kept": (validate, True)}


@contextlib.contextmanager
def _no_copies(model: GPT):
    """Make ``generate`` enter no ``kept_copies`` block, so that ``fast_linear`` multiplies the live parameters."""
    generate_module = importlib.import_module("mygpt.generate")  # ``mygpt.generate`` is also the function
    original, generate_module.kept_copies = generate_module.kept_copies, contextlib.nullcontext
    try:
        yield
    finally:
        generate_module.kept_copies = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=250)
    args = parser.parse_args()
    set_seed(0)
    model = prepare_fast(GPT.from_config(GPTConfig(65, 384, 6, 6, max_seq_len=256)).eval())
    prompt = torch.randint(0, 65, (1, 5))
    data = torch.randint(0, 65, (20_000,))
    cases = _cases(model, prompt, data, args.tokens)
    times = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (run, kept) in cases.items():
            with kept_copies(model) if kept else contextlib.nullcontext():
                if kept:
                    run()  # the copies are made here, outside the timed call
                start = time.process_time()
                run()
                times[name].append(time.process_time() - start)
    result = {"machine": {"cpu": cpu_name(), "avx512_bf16": "avx512_bf16" in cpu_flags(),
                          "torch_threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                          "load_average_1min": round(os.getloadavg()[0], 2), "torch": torch.__version__},
              "rounds": args.rounds, "new_tokens": args.tokens, "cases": {}}
    for name, seconds in times.items():
        reference = times[name.split("/")[0] + "/kept"]
        ratios = [a / b for a, b in zip(seconds, reference)]
        result["cases"][name] = {"median_s": statistics.median(seconds), "half_range_s": (max(seconds) - min(seconds)) / 2,
                                 "vs_kept": statistics.median(ratios), "vs_kept_range": [min(ratios), max(ratios)]}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
