"""How much a second busy process slows ``mygpt train``, under each thread setting.

    python benchmarks/under_load.py [--steps 300] [--rounds 3] [--busy 1]

Runs a short ``mygpt train`` (the Quickstart's built-in corpus and model) in fresh processes, alone and
beside ``--busy`` busy-looping processes (``while True: pass``, started just before and killed just
after), under each setting of ``SETTINGS``: OpenMP's wait policy (``OMP_WAIT_POLICY``: threads that
spin between parallel regions, or sleep) and torch's thread count. Settings alternate within each
round, so whatever else runs on the machine slows them alike. Prints one JSON line per run, then a
summary per setting: median seconds alone and busy, and the slowdown as the median [range] of the
same-round ratios busy/alone (a run stopped at ``--timeout`` counts as that long: a lower bound). A busy process that takes one of N cores should slow a run by at most
N/(N-1) (2x on 2 cores); spinning threads that wait for a descheduled partner do far worse.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# name -> environment: the policy mygpt sets by default (passive waiting, every core), the spinning
# policy it replaces, and one thread.
SETTINGS = {
    "mygpt-default": {},
    "spinning": {"OMP_WAIT_POLICY": "ACTIVE"},
    "passive-1-thread": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"},
}
BUSY_LOOP = "while True: pass"


def run_train(env: dict, steps: int, busy: int, work: str, timeout: float) -> float:
    """Wall seconds of one ``mygpt train`` of ``steps`` steps beside ``busy`` busy loops; a run that
    passes ``timeout`` seconds is stopped and counts as ``timeout`` (a lower bound)."""
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(busy)]
    try:
        time.sleep(0.5 if busy else 0)  # let the loops get going
        start = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-m", "mygpt", "train", "--steps", str(steps), "--print-every",
                                   str(steps), "--output", os.path.join(work, "m.ckpt")], env=env, cwd=work,
                                  capture_output=True, text=True, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            return timeout
        seconds = time.perf_counter() - start
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    if done.returncode != 0:
        sys.exit(f"under_load: mygpt train failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="Training steps per run. Default: 300.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds. Default: 3.")
    parser.add_argument("--busy", type=int, default=1, help="Busy-looping processes beside a run. Default: 1.")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="Seconds after which a run is stopped and counted as this long. Default: 300.")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="Comma-separated subset of the settings.")
    args = parser.parse_args()
    names = args.settings.split(",")
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    rows = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as work:
        for round_ in range(args.rounds):
            for name in names:
                env = {**base, **SETTINGS[name]}
                alone = run_train(env, args.steps, 0, work, args.timeout)
                busy = run_train(env, args.steps, args.busy, work, args.timeout)
                row = {"round": round_, "setting": name, "alone_s": round(alone, 2), "busy_s": round(busy, 2),
                       "slowdown": round(busy / alone, 2), "load_average_1min": round(os.getloadavg()[0], 2)}
                rows[name].append(row)
                print(json.dumps(row), flush=True)
    summary = {"steps": args.steps, "busy_processes": args.busy, "cores": os.cpu_count(), "settings": {}}
    for name, runs in rows.items():
        ratios = [r["slowdown"] for r in runs]
        summary["settings"][name] = {"env": SETTINGS[name], "alone_s": statistics.median(r["alone_s"] for r in runs),
                                     "busy_s": statistics.median(r["busy_s"] for r in runs),
                                     "slowdown": statistics.median(ratios), "range": [min(ratios), max(ratios)]}
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
