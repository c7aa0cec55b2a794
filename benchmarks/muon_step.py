"""What a Muon step costs on this machine: torch's ``Muon`` against mygpt's batched form, in bf16 and fp32.

    python benchmarks/muon_step.py [--rounds 5] [--steps 20] [--widths 64,128,256]

For the fast-cpu recipe's model shape (RoPE, RMSNorm, 4 layers, 4 heads) at each width, one backward
pass gives gradients; then each optimizer steps ``--steps`` times on them and its CPU time per step is
measured (``time.process_time``; with one thread that is the work itself, and other programs on a
shared machine disturb it far less than the wall clock):

* ``adamw``: fused AdamW on every weight (what ``--fast`` steps with ``--optimizer adamw``);
* ``muon-torch``: ``torch.optim.Muon`` on the blocks' matrices (its Newton-Schulz iterations run one
  matrix at a time, in bf16) plus fused AdamW on the rest, as the exact path steps;
* ``muon-batched-bf16`` / ``muon-batched-fp32``: ``BatchedMuon`` (same-shaped matrices stacked, one
  batched matmul per iteration) in each precision, plus fused AdamW on the rest. ``--fast`` takes
  bf16 where the CPU multiplies it natively (``mygpt.train.optim.ns_dtype``), else fp32.

The optimizers alternate within each round. Prints one JSON line per width and round, then a summary
per width: the median CPU ms per step and each Muon form's cost relative to ``adamw`` and to
``muon-torch`` (median [range] of same-round ratios). Set ``OMP_NUM_THREADS`` to fix the threads.
"""

import argparse
import json
import os
import statistics
import time

import torch

from mygpt import GPT, set_seed
from mygpt.fast.hardware import bf16_is_native, cpu_name
from mygpt.train import optim

FORMS = ("adamw", "muon-torch", "muon-batched-bf16", "muon-batched-fp32")


def make(form: str, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The optimizer ``form`` names, on ``model``'s parameters (Muon's learning rate 0: weights stay put)."""
    if form == "adamw":
        return optim.make_optimizer(model, 0.0, fast=True)
    hidden, rest = optim.split_hidden_matrices(model)
    muon_class = torch.optim.Muon if form == "muon-torch" else optim.BatchedMuon
    return optim.MuonAdamW(torch.optim.AdamW(rest, lr=0.0, fused=True), muon_class(hidden, lr=0.0), (0.0, 0.0))


def cpu_ms_per_step(optimizer, form: str, steps: int) -> float:
    dtype = {"muon-batched-bf16": torch.bfloat16, "muon-batched-fp32": torch.float32}.get(form)
    original = optim.ns_dtype
    if dtype is not None:
        optim.ns_dtype = lambda device: dtype
    try:
        optimizer.step()  # warm-up: creates the state
        start = time.process_time()
        for _ in range(steps):
            optimizer.step()
        return (time.process_time() - start) / steps * 1e3
    finally:
        optim.ns_dtype = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="Alternating rounds. Default: 5.")
    parser.add_argument("--steps", type=int, default=20, help="Optimizer steps timed per form and round. Default: 20.")
    parser.add_argument("--widths", default="64,128,256", help="Model widths (embed_dim). Default: 64,128,256.")
    args = parser.parse_args()
    machine = {"cpu": cpu_name(), "native_bf16": bf16_is_native(torch.device("cpu")),
               "torch_threads": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    summary = {"machine": machine, "widths": {}}
    for width in map(int, args.widths.split(",")):
        set_seed(0)
        model = GPT(65, width, 4, 4, max_seq_len=64, norm_type="rms", position_type="rope")
        ids = torch.randint(0, 65, (2, 16, 64), generator=torch.Generator().manual_seed(0))
        model(ids[0], ids[1])[1].backward()
        times = {form: [] for form in FORMS}
        for round_ in range(args.rounds):
            for form in FORMS:
                times[form].append(cpu_ms_per_step(make(form, model), form, args.steps))
            print(json.dumps({"width": width, "round": round_, **{f: round(t[-1], 3) for f, t in times.items()},
                              "load_average_1min": round(os.getloadavg()[0], 2)}), flush=True)
        entry = {"cpu_ms_per_step": {f: round(statistics.median(t), 3) for f, t in times.items()}}
        for base in ("adamw", "muon-torch"):
            for form in FORMS[2:] + (("muon-torch",) if base == "adamw" else ()):
                ratios = [a / b for a, b in zip(times[form], times[base])]
                entry[f"{form} / {base}"] = {"median": round(statistics.median(ratios), 3),
                                             "range": [round(min(ratios), 3), round(max(ratios), 3)]}
        summary["widths"][width] = entry
    summary["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
