"""``mygpt attention``: what each head of a layer attends to, for the tokens of a prompt, as heatmaps."""

import argparse

import torch

from ..analysis.attention_weights import attention_weights
from ..analysis.plots import plot_attention
from ..checkpoint import load_checkpoint
from ..errors import require
from .checks import check_figure_path, check_prompt, check_prompt_given

DESCRIPTION = ("Draw the causal attention weights a trained model gives the tokens of a prompt: one "
               "heatmap per head of a layer (or one chosen head), the prompt's tokens on both axes, "
               "each row showing how much that token attends to itself and every earlier token. "
               "Computed on the exact (book) path, without dropout. Needs matplotlib "
               "(pip install 'mygpt[plot]').")


def add_parser(sub) -> None:
    """Register ``mygpt attention``."""
    a = sub.add_parser("attention", help="Draw a layer's attention weights over a prompt as heatmaps.",
                       description=DESCRIPTION)
    a.add_argument("--checkpoint", required=True, help="Checkpoint written by `mygpt train`.")
    a.add_argument("--prompt", required=True,
                   help="Text whose tokens are shown; at most the model's context window of tokens.")
    a.add_argument("--layer", type=int, default=0,
                   help="Transformer block to show, 0 being the first; negative counts from the last. "
                        "Default: 0.")
    a.add_argument("--head", type=int, default=None,
                   help="Show only this attention head (0 being the first). Default: every head of the layer.")
    a.add_argument("--out", default="attention.png",
                   help="Figure to write (.png, .svg or .pdf). Default: attention.png.")
    a.set_defaults(func=_attention_command)



def _attention_command(args: argparse.Namespace) -> None:
    check_figure_path(args.out)
    check_prompt_given(args.prompt)
    model, tokenizer = load_checkpoint(args.checkpoint)
    layers, heads = len(model.blocks), model.num_heads
    require(-layers <= args.layer < layers, f"--layer {args.layer} does not exist: the model has "
                                            f"{layers} layer(s), 0 to {layers - 1}")
    require(args.head is None or 0 <= args.head < heads,
            f"--head {args.head} does not exist: each layer has {heads} head(s), 0 to {heads - 1}")
    check_prompt(args.prompt, tokenizer)
    ids = tokenizer.encode(args.prompt)
    require(len(ids) <= model.max_seq_len, f"--prompt has {len(ids)} tokens but the model's context window "
                                           f"is {model.max_seq_len}; shorten the prompt")
    layer = args.layer % layers
    weights = attention_weights(model, ids)[layer]
    chosen = range(heads) if args.head is None else [args.head]
    names = [f"head {h}" for h in chosen]
    prompt = args.prompt if len(args.prompt) <= 40 else args.prompt[:37] + "..."
    plot_attention(weights[list(chosen)], [tokenizer.decode(torch.tensor([i])) for i in ids], args.out,
                   f"{args.checkpoint}, layer {layer}: {prompt!r}", names)
    print(f"wrote {args.out} (layer {layer}, {len(names)} head(s), {len(ids)} tokens)")
