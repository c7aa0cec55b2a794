"""``mygpt generate``: sample text from a checkpoint, printed token by token as it is drawn (Ch.15, Ch.18)."""

import argparse
import json
import re
import sys
from dataclasses import dataclass

import torch

from ..checkpoint import load_checkpoint
from ..errors import require
from ..fast import prepare_fast
from ..fast.precision import fast_precision
from ..fast.weight_copies import set_weight_precision
from ..generate import Step, TextStream, step_report, stream
from ..utils import forward_precision, pick_device, set_seed
from .checks import check_generate_args, check_prompt
from .common import (
    DEVICE_HELP,
    DEVICES,
    FAST_HELP,
    PRECISION_HELP,
    add_below,
)

DESCRIPTION = ("Continue a prompt with text sampled from a trained checkpoint, one token at a time. "
               "Prints the prompt followed by the continuation, each token as soon as it is drawn; "
               "Ctrl-C stops, keeping what was printed (exit status 130).")
SHOWN_ALTERNATIVES = 5  # --show-probs: the most likely tokens listed at each step
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def add_parser(sub) -> None:
    """Register ``mygpt generate`` (the book's options in its order, then mygpt's)."""
    g = sub.add_parser("generate", help="Generate text from a checkpoint.", description=DESCRIPTION)
    add_below(g, "--checkpoint", required=True, help="Checkpoint written by `mygpt train`.")
    add_below(g, "--prompt", required=True,
              help="Text to continue; only characters the model saw in training.")
    add_below(g, "--max-new-tokens", type=int, default=200,
              help="Tokens to generate (past the context window, the model sees the last window's "
                   "worth). Default: 200.")
    add_below(g, "--temperature", type=float, default=1.0,
              help="Divides the logits: below 1 is more conservative, above 1 more adventurous; 0 is "
                   "greedy (always the most likely token, no randomness). Default: 1.0.")
    add_below(g, "--top-k", type=int, default=10,
              help="Sample only among the k most likely tokens. Default: 10.")
    add_below(g, "--seed", type=int, default=0,
              help="Seed of the sampling (0 to 2**64-1); same seed, same text. Default: 0.")
    g.add_argument("--device", default="auto", choices=DEVICES, help=DEVICE_HELP)
    g.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help=PRECISION_HELP)
    g.add_argument("--fast", action="store_true", help=FAST_HELP)
    g.add_argument("--weights", default="fp32", choices=["fp32", "bf16", "int8"],
                   help="With --fast: decode with bf16, or int8 weight-only (one scale per row), copies of the "
                        "weights. Faster where the weights outgrow the CPU caches, but an approximation, not "
                        "the model's exact function: `mygpt eval --weights` prints its cost in loss. "
                        "Default: fp32.")
    g.add_argument("--top-p", type=float, default=None, metavar="P",
                   help="Nucleus sampling, after --top-k: keep the most likely tokens whose probabilities "
                        "add up to at least P (0 < P <= 1), e.g. 0.9; a --top-k as large as the vocabulary "
                        "lets top-p alone decide. Default: off.")
    g.add_argument("--num-samples", type=int, default=1, metavar="N",
                   help="Samples to draw, one after the other, numbered from 1 (in the headers and in "
                        "--show-probs): sample 1 uses --seed S, sample 2 S+1, and so on, so `--seed S+1` "
                        "alone reprints sample 2. With N > 1 each starts with a line "
                        "'--- sample 2/N (seed S+1) ---'. Default: 1.")
    g.add_argument("--stop", action="append", default=[], metavar="STR",
                   help="End a sample where this text appears in the generated text; the stop text itself is "
                        "not printed. "
                        r"Repeatable (the first to appear wins); \n, \t and \\ are read as newline, tab "
                        "and backslash.")
    g.add_argument("--show-probs", nargs="?", const="text", choices=["text", "json"], default=None,
                   help="For each generated token, print on stderr its probability (as sampled, and the "
                        f"model's own before temperature/top-k/top-p) and the {SHOWN_ALTERNATIVES} most "
                        "likely tokens: as text lines, or 'json' (one object per line). stdout is "
                        "unchanged. Default: off; given without a value: text.")
    g.set_defaults(func=_generate_command)


def _unescape(text: str) -> str:
    r"""``\n``, ``\t`` and ``\\`` as the characters they name; any other backslash stays as typed."""
    return re.sub(r"\\([nt\\])", lambda m: _ESCAPES[m.group(1)], text)


def _write(text: str) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


@dataclass(frozen=True)
class Request:
    """What ``mygpt generate`` was asked, resolved once from its arguments and checked."""

    checkpoint: str
    prompt: str
    max_new_tokens: int
    temperature: float
    top_k: int
    top_p: float | None
    seed: int
    num_samples: int
    stop: tuple[str, ...]  # with \n, \t and \\ read as the characters they name
    show_probs: str | None
    device: str
    precision: str
    fast: bool
    weights: str  # the fast path's decoding weight copies: fp32, bf16 or int8

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Request":
        request = cls(args.checkpoint, args.prompt, args.max_new_tokens, args.temperature, args.top_k, args.top_p,
                      args.seed, args.num_samples, tuple(_unescape(s) for s in args.stop), args.show_probs,
                      args.device, args.precision, args.fast, args.weights)
        check_generate_args(request)
        require(request.weights == "fp32" or request.fast,
                f"--weights {request.weights} needs --fast (the weight copies are the fast path's)")
        return request


def _generate_command(args: argparse.Namespace) -> None:
    request = Request.from_args(args)
    try:
        device = pick_device(request.device)
        model, tokenizer = load_checkpoint(request.checkpoint)
        check_prompt(request.prompt, tokenizer)
        print(f"device: {device}\n")
        model.to(device)
        precision = request.precision
        if request.fast:
            prepare_fast(model)  # the fast path samples in bf16 only where bf16 is native
            set_weight_precision(model, request.weights)
            precision = fast_precision(precision, device)
        for i in range(request.num_samples):
            if request.num_samples > 1:
                print(f"--- sample {i + 1}/{request.num_samples} (seed {request.seed + i}) ---")
            _sample(model, tokenizer, request, device, precision, i + 1)
    except KeyboardInterrupt:
        sys.stdout.flush()
        print("mygpt: interrupted; the text printed so far is kept", file=sys.stderr)
        sys.exit(130)


def _sample(model, tokenizer, request: Request, device: torch.device, precision: str, number: int) -> None:
    """Sample ``number`` (from 1, as everywhere): seed, print the prompt, then stream the continuation to
    stdout; end the sample with a newline."""
    seed = request.seed + number - 1
    set_seed(seed)
    ids = tokenizer.encode(request.prompt).unsqueeze(0).to(device)
    _write(tokenizer.decode(ids[0]))
    text = TextStream(tokenizer.decode, request.stop)
    steps = stream(model, ids, request.max_new_tokens, request.temperature, request.top_k, use_cache=request.fast,
                   top_p=request.top_p)
    try:
        with forward_precision(device, precision):
            for step_number, step in enumerate(steps, 1):
                if request.show_probs:
                    _show_probs(step, tokenizer, request.show_probs, step_number, number, seed)
                _write(text.push(step.ids[0, 0]))
                if text.stopped:
                    break
    finally:
        _write(text.finish() + "\n")


def _show_probs(step: Step, tokenizer, form: str, number: int, sample: int, seed: int) -> None:
    """One line on stderr: the token drawn (step ``number`` of sample ``sample``, both from 1), its
    probability, and the most likely alternatives."""
    report = step_report(step, tokenizer.decode, SHOWN_ALTERNATIVES)
    if form == "json":
        line = json.dumps({"sample": sample, "seed": seed, "step": number, **report}, ensure_ascii=False)
    else:
        alternatives = ", ".join(f"{e['token']!r} {e['p']:.4f}" for e in report["top"])
        line = (f"sample {sample} step {number}: {report['token']!r} p={report['p']:.4f} "
                f"(model {report['model_p']:.4f}) | top: {alternatives}")
    print(line, file=sys.stderr, flush=True)
