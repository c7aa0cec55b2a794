"""How live ``mygpt serve`` feels: time to the first token, and many clients at once.

    python benchmarks/serve.py [--checkpoint C] [--rounds 5] [--requests 10] [--clients 20] [--threads 1]

Two servers run as separate processes, as a user starts them: ``mygpt serve C`` (the fast path with
the KV cache) and ``mygpt serve C --exact`` (the book's path). Without ``--checkpoint`` the model is
the book's default shape (64-dim, 4 heads, 4 layers, 64-token window) with the character vocabulary
of the built-in corpus, freshly initialised: a step costs what a trained model's step costs.

* **first token**: a 200-character prompt (cropped by the model to its window, as ``mygpt generate``
  does), one new token, ``--requests`` requests per path per round, the paths alternating in order
  each round; the time from sending the request to the first token event, on the client. Beside it,
  the same first step through the library alone (``generate.stream``, no HTTP) in this process.
* **concurrency**: ``--clients`` clients at once, each generating ``--new-tokens`` tokens from the same
  prompt (different seeds), against 1 client alone, alternating; every error is counted (a status
  other than 200, a broken stream, a wrong number of tokens).

Prints one JSON object per measurement, then a table with medians, quartiles and same-round ratios.
The server's CPU time (``/proc/PID/stat``) per generated token is given beside the wall times: it
moves less than wall time when other processes share the machine.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import torch

from mygpt import GPT, CharTokenizer, save_checkpoint, set_seed
from mygpt.checkpoint import load_checkpoint
from mygpt.data.corpus import builtin_text
from mygpt.fast import cpu_flags, cpu_name, prepare_fast
from mygpt.generate import stream

PROMPT_CHARS = 200
SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(**result) -> None:
    print(json.dumps(result), flush=True)


def quartiles(values: list[float]) -> dict:
    """Median, quartiles, 95th percentile and the extremes of ``values``."""
    q = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else [values[0]] * 19
    return {"median": statistics.median(values), "p25": q[4], "p75": q[14], "p95": q[18], "min": min(values),
            "max": max(values), "n": len(values)}


def default_checkpoint(folder: Path) -> tuple[Path, str]:
    """The book's default model shape with the built-in corpus's characters; and a prompt in them."""
    text = builtin_text()
    tokenizer = CharTokenizer.from_text(text)
    set_seed(0)
    model = GPT(tokenizer.vocab_size, 64, 4, 4, max_seq_len=64)
    path = folder / "default.ckpt"
    save_checkpoint(model, tokenizer, str(path))
    return path, text[:PROMPT_CHARS]


class Server:
    """``python -m mygpt serve CHECKPOINT --port 0 [flags]`` in a process of its own."""

    def __init__(self, checkpoint: Path, threads: int, *flags: str):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mygpt", "serve", str(checkpoint), "--port", "0", "--threads", str(threads),
             "--max-concurrent", "64", *flags], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        for line in self.process.stdout:
            if match := re.match(r"serving on (http://\S+)/ ", line):
                self.url = match.group(1)
                break
        else:
            raise RuntimeError(f"mygpt serve {' '.join(flags)} did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def generate(client: httpx.Client, url: str, prompt: str, new_tokens: int, seed: int) -> tuple[float, int]:
    """One streamed generation: (seconds to the first token event, number of token events)."""
    start = time.perf_counter()
    first, tokens, done = None, 0, False
    with client.stream("POST", f"{url}/api/generate",
                       json={"prompt": prompt, "max_new_tokens": new_tokens, "seed": seed}) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.read()[:200]!r}")
        for line in response.iter_lines():
            if line == "event: token":
                tokens += 1
                if first is None:
                    first = time.perf_counter() - start
            elif line == "event: done":
                done = True
    if not done or tokens != new_tokens:
        raise RuntimeError(f"stream ended after {tokens} of {new_tokens} tokens")
    return first, tokens


def library_first_step(model, ids: torch.Tensor, fast: bool) -> float:
    """Seconds to the first sampled token through ``generate.stream`` in this process (no HTTP)."""
    start = time.perf_counter()
    next(stream(model, ids, 1, top_k=10, use_cache=fast))
    return time.perf_counter() - start


def first_token(servers: dict[str, Server], checkpoint: Path, prompt: str, args) -> dict:
    """Time to first token per path, alternating the order every round."""
    exact, tokenizer = load_checkpoint(str(checkpoint))
    fast = prepare_fast(load_checkpoint(str(checkpoint))[0].eval())
    exact.eval()
    ids = tokenizer.encode(prompt).unsqueeze(0)
    torch.set_num_threads(args.threads)
    paths = {"http fast": None, "http exact": None, "library fast": fast, "library exact": exact}
    times: dict[str, list[float]] = {name: [] for name in paths}
    round_medians: dict[str, list[float]] = {name: [] for name in paths}
    with httpx.Client(timeout=60) as client:
        for name in ("http fast", "http exact"):  # warm-up: first requests load code paths
            generate(client, servers[name.split()[1]].url, prompt, 1, 0)
        for model in (fast, exact):
            library_first_step(model, ids, model is fast)
        for r in range(args.rounds):
            order = list(paths) if r % 2 == 0 else list(reversed(paths))
            for name in order:
                samples = []
                for i in range(args.requests):
                    if paths[name] is None:
                        samples.append(generate(client, servers[name.split()[1]].url, prompt, 1, i)[0])
                    else:
                        samples.append(library_first_step(paths[name], ids, name.endswith("fast")))
                times[name] += samples
                round_medians[name].append(statistics.median(samples))
            log(f"first token, round {r + 1}/{args.rounds}: " +
                ", ".join(f"{n} {1e3 * round_medians[n][-1]:.1f} ms" for n in paths))
    result = {}
    for name in paths:
        stats = {k: (v * 1e3 if k != "n" else v) for k, v in quartiles(times[name]).items()}
        ratios = [e / f for e, f in zip(round_medians[name], round_medians["http fast"])]
        result[name] = {**stats, "vs_http_fast": quartiles(ratios)}
        emit(measure="first_token_ms", path=name, prompt_chars=len(prompt), **result[name])
    return result


def crowd(url: str, prompt: str, clients: int, new_tokens: int) -> tuple[list[float], list[int], list[str]]:
    """``clients`` generations at once, one thread each: their first-token times, token counts and errors."""
    firsts, tokens, errors = [], [], []

    def one(seed: int) -> None:
        try:
            with httpx.Client(timeout=300) as client:
                first, n = generate(client, url, prompt, new_tokens, seed)
            firsts.append(first)
            tokens.append(n)
        except Exception as err:  # noqa: BLE001 - counted and reported
            errors.append(repr(err))

    threads = [threading.Thread(target=one, args=(seed,)) for seed in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return firsts, tokens, errors


def concurrency(server: Server, prompt: str, args) -> dict:
    """``--clients`` clients at once against one alone, alternating; errors counted."""
    results = {1: [], args.clients: []}
    for r in range(args.rounds):
        for clients in ((1, args.clients) if r % 2 == 0 else (args.clients, 1)):
            cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
            firsts, tokens, errors = crowd(server.url, prompt, clients, args.new_tokens)
            wall, cpu = time.perf_counter() - wall0, server.cpu_seconds() - cpu0
            row = {"clients": clients, "round": r + 1, "errors": len(errors), "error_examples": errors[:3],
                   "tokens": sum(tokens), "wall_s": wall, "tokens_per_s": sum(tokens) / wall,
                   "server_cpu_ms_per_token": 1e3 * cpu / max(1, sum(tokens)),
                   "first_token_ms": {k: (v * 1e3 if k != "n" else v) for k, v in quartiles(firsts).items()}
                   if firsts else None}
            results[clients].append(row)
            emit(measure="concurrency", **row)
            log(f"concurrency, round {r + 1}/{args.rounds}: {clients} client(s), {len(errors)} errors, "
                f"{row['tokens_per_s']:.0f} tokens/s, first token median "
                f"{row['first_token_ms']['median'] if firsts else float('nan'):.0f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="Checkpoint to serve (default: the book's default shape).")
    parser.add_argument("--rounds", type=int, default=5, help="Alternating rounds of each measurement.")
    parser.add_argument("--requests", type=int, default=10, help="First-token requests per path per round.")
    parser.add_argument("--clients", type=int, default=20, help="Concurrent clients.")
    parser.add_argument("--new-tokens", type=int, default=100, help="Tokens each concurrent client generates.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (servers and library), also "
                                                               "OMP_NUM_THREADS of the servers.")
    args = parser.parse_args()
    load_before = os.getloadavg()
    flags = sorted(f for f in SHOWN_FLAGS if f in cpu_flags())
    machine = {"cpu": cpu_name(), "flags": flags, "cores": os.cpu_count(), "torch": torch.__version__,
               "threads": args.threads, "OMP_NUM_THREADS_of_servers": args.threads}
    emit(measure="machine", **machine, loadavg_start=load_before)
    with tempfile.TemporaryDirectory() as folder:
        if args.checkpoint:
            checkpoint = Path(args.checkpoint)
            tokenizer = load_checkpoint(str(checkpoint))[1]
            text = builtin_text()
            prompt = "".join(c for c in text if tokenizer.chars is None or c in tokenizer.chars)[:PROMPT_CHARS]
        else:
            checkpoint, prompt = default_checkpoint(Path(folder))
        servers = {"fast": Server(checkpoint, args.threads), "exact": Server(checkpoint, args.threads, "--exact")}
        try:
            latency = first_token(servers, checkpoint, prompt, args)
            crowd = concurrency(servers["fast"], prompt, args)
        finally:
            for server in servers.values():
                server.stop()
    load_after = os.getloadavg()
    emit(measure="load", loadavg_start=load_before, loadavg_end=load_after)
    print(f"\n{machine['cpu']} ({', '.join(flags)}), {machine['cores']} cores, torch {machine['torch']}, "
          f"{args.threads} thread(s); load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end",
          file=sys.stderr)
    print(f"first token of a {len(prompt)}-character prompt (ms; {args.rounds} rounds x {args.requests}):",
          file=sys.stderr)
    for name, s in latency.items():
        r = s["vs_http_fast"]
        print(f"  {name:<14} median {s['median']:7.2f}  p25-p75 {s['p25']:.2f}-{s['p75']:.2f}  p95 "
              f"{s['p95']:7.2f}  vs http fast {r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f})", file=sys.stderr)
    print(f"concurrency ({args.new_tokens} new tokens per client, fast path):", file=sys.stderr)
    for clients, rows in crowd.items():
        rate = [row["tokens_per_s"] for row in rows]
        firsts = [row["first_token_ms"]["median"] for row in rows if row["first_token_ms"]]
        print(f"  {clients:>3} client(s): errors {sum(row['errors'] for row in rows)}, tokens/s median "
              f"{statistics.median(rate):.0f} ({min(rate):.0f}-{max(rate):.0f}), first token median "
              f"{statistics.median(firsts):.1f} ms, server CPU "
              f"{statistics.median(row['server_cpu_ms_per_token'] for row in rows):.2f} ms/token", file=sys.stderr)


if __name__ == "__main__":
    main()
