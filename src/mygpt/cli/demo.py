"""The book's chapter demos: what ``mygpt`` printed at the end of Chapters 2-13.

Until Chapter 18 the ``mygpt`` command was a demo of the package built so far. Each chapter's demo
starts with the running example's vocabulary and then shows that chapter's new module on it.
``mygpt demo --chapter N`` replays chapter N's demo; the default is Chapter 13's forward pass with loss.
"""

import argparse
import math
from collections.abc import Callable

import torch

from ..attention import MultiHeadAttention, SingleHeadAttention
from ..block import TransformerBlock
from ..embedding import TokenEmbedding
from ..mlp import MLP
from ..model import GPT
from ..norm import LayerNorm
from ..utils import VOCAB, count_params, set_seed, to_ids

SENTENCE = ["I", "love", "AI", "!"]


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _batch() -> torch.Tensor:
    """The running example as a batch of one: ``[[0, 1, 2, 3]]``."""
    return to_ids(SENTENCE).unsqueeze(0)


def _toy_gpt() -> GPT:
    set_seed(0)
    return GPT(vocab_size=4, embed_dim=4, num_heads=2, num_layers=2, max_seq_len=64, dropout=0.0).eval()


def ch02() -> None:
    print("Vocabulary:", VOCAB)
    print(f"Vocabulary size V = {len(VOCAB)}")


def ch03() -> None:
    ch02()
    print(f"to_ids({SENTENCE}) = {to_ids(SENTENCE)}")


def ch04() -> None:
    ch03()
    set_seed(0)
    print(f"after set_seed(0), torch.randn(3) = {torch.randn(3)}")


def ch05() -> None:
    ch03()
    set_seed(0)
    te = TokenEmbedding(4, 4)
    print()
    print("TokenEmbedding(V=4, C=4):")
    print(te)
    print(f"params = {count_params(te)}")
    print()
    print(f"te(ids) shape = {_shape(te(to_ids(SENTENCE)))}")


def _attention_demo(with_buffers: bool) -> None:
    """Chapters 6 and 7: one attention head on the embedded sentence."""
    ch02()
    set_seed(0)
    te = TokenEmbedding(4, 4)
    attn = SingleHeadAttention(embed_dim=4, head_dim=4, max_seq_len=64, dropout=0.0)
    if with_buffers:
        attn.eval()
    ids = _batch()
    x = te(ids)
    out = attn(x)
    print()
    print(f"Token ids shape:           {_shape(ids)}")
    print(f"Embedded shape (B, T, C):  {_shape(x)}")
    print(f"Attention output (B, T, C): {_shape(out)}")
    print()
    print(f"TokenEmbedding parameters:        {count_params(te)}")
    print(f"SingleHeadAttention parameters:   {count_params(attn)}")
    total = count_params(te) + count_params(attn)
    if with_buffers:
        n_buffer = sum(b.numel() for b in attn.buffers())
        print(f"SingleHeadAttention buffers:      {n_buffer}  (causal_mask, not trained)")
        print(f"Total parameters:                 {total}")
    else:
        print(f"Total:                            {total}")


def ch06() -> None:
    _attention_demo(with_buffers=False)


def ch07() -> None:
    _attention_demo(with_buffers=True)


def ch08() -> None:
    ch02()
    set_seed(0)
    te = TokenEmbedding(4, 4)
    mha = MultiHeadAttention(4, num_heads=2, max_seq_len=64, dropout=0.0).eval()
    ids = _batch()
    x = te(ids)
    print()
    print(f"Token ids shape:                {_shape(ids)}")
    print(f"Embedded shape (B, T, C):       {_shape(x)}")
    print(f"MultiHeadAttention output shape: {_shape(mha(x))}")
    print()
    print(f"num_heads = {mha.num_heads}, head_dim = {mha.head_dim}, embed_dim = {mha.embed_dim}")
    print()
    print(f"TokenEmbedding parameters:        {count_params(te)}")
    print(f"MultiHeadAttention parameters:    {count_params(mha)}")
    print(f"Total parameters:                 {count_params(te) + count_params(mha)}")


def ch09() -> None:
    ch02()
    set_seed(0)
    te = TokenEmbedding(4, 4)
    mlp = MLP(4).eval()
    ids = _batch()
    x = te(ids)
    print()
    print(f"Token ids shape:                {_shape(ids)}")
    print(f"Embedded shape (B, T, C):       {_shape(x)}")
    print(f"MLP output shape:               {_shape(mlp(x))}")
    print(f"x + MLP(x) shape (residual):    {_shape(x + mlp(x))}")
    print()
    print(f"hidden_dim = 4*C = {mlp.fc1.out_features}, embed_dim = {mlp.embed_dim}")
    print()
    print(f"TokenEmbedding parameters:        {count_params(te)}")
    print(f"MLP parameters:                   {count_params(mlp)}")
    print(f"Total parameters:                 {count_params(te) + count_params(mlp)}")


def ch10() -> None:
    ch02()
    set_seed(0)
    te = TokenEmbedding(4, 4)
    ln = LayerNorm(4)
    mlp = MLP(4).eval()
    x = te(_batch())
    normed = ln(x)
    print()
    print(f"Input x       shape={_shape(x)}")
    print(f"After LN(x)   shape={_shape(normed)}")
    print(f"After residual+MLP+LN  shape={_shape(x + mlp(ln(x)))}")
    print()
    print(f"LN(x) per-token means (4 positions): {normed.mean(dim=-1).flatten().tolist()}")
    print(f"LN(x) per-token stds  (4 positions): {normed.std(dim=-1, unbiased=False).flatten().tolist()}")
    print()
    print(f"TokenEmbedding parameters:   {count_params(te)}")
    print(f"LayerNorm parameters:        {count_params(ln)}  (= 2 * embed_dim)")
    print(f"MLP parameters:              {count_params(mlp)}")
    print(f"Total parameters:            {count_params(te) + count_params(ln) + count_params(mlp)}")


def ch11() -> None:
    ch02()
    set_seed(0)
    te = TokenEmbedding(4, 4)
    block = TransformerBlock(4, num_heads=2, max_seq_len=64, dropout=0.0).eval()
    ids = _batch()
    x = te(ids)
    print()
    print(f"Token ids shape:           {_shape(ids)}")
    print(f"Embedded shape (B, T, C):  {_shape(x)}")
    print(f"Block output shape:        {_shape(block(x))}")
    print()
    print(block)
    print()
    print(f"TokenEmbedding parameters:   {count_params(te)}")
    print(f"TransformerBlock parameters: {count_params(block)}")
    print(f"Total parameters:            {count_params(te) + count_params(block)}")


def ch12() -> None:
    ch02()
    gpt = _toy_gpt()
    ids = _batch()
    logits, _ = gpt(ids)
    print()
    print(f"Token ids shape:  {_shape(ids)}")
    print(f"Logits shape:     {_shape(logits)}  (B, T, V)")
    print()
    print(f"Token embedding       (V*C):       {count_params(gpt.token_embedding):>5}")
    print(f"Position embedding (max_seq*C):    {count_params(gpt.position_embedding):>5}")
    per_block = count_params(gpt.blocks[0])
    print(f"{gpt.num_layers} TransformerBlocks  (N*{per_block}):     {count_params(gpt.blocks):>5}")
    print(f"Final LayerNorm       (2*C):        {count_params(gpt.ln_f):>5}")
    print(f"Tied head            (0 extra):     {0:>5}")
    print(f"Total parameters:                  {count_params(gpt):>5}")


def ch13() -> None:
    ch02()
    gpt = _toy_gpt()
    full = to_ids(SENTENCE)
    inputs, targets = full[:-1].unsqueeze(0), full[1:].unsqueeze(0)
    logits, loss = gpt(inputs, targets)
    V = len(VOCAB)
    print()
    print(f"Input ids (B, T):    {_shape(inputs)}  {inputs.tolist()}")
    print(f"Targets   (B, T):    {_shape(targets)}  {targets.tolist()}")
    print(f"Logits    (B, T, V): {_shape(logits)}")
    print(f"Loss:                {loss.item():.4f}")
    print()
    print(f"Reference: log(V) = log({V}) = {math.log(V):.4f}")
    print("(Random-init loss is typically a small multiple of log(V); training drives it down.)")


CHAPTERS: dict[int, Callable[[], None]] = {
    2: ch02, 3: ch03, 4: ch04, 5: ch05, 6: ch06, 7: ch07,
    8: ch08, 9: ch09, 10: ch10, 11: ch11, 12: ch12, 13: ch13,
}


def run_demo(chapter: int = 13) -> None:
    """Print the demo of ``chapter`` (2-13) exactly as the book's ``mygpt`` printed it."""
    CHAPTERS[chapter]()


def add_parser(sub) -> None:
    """Register ``mygpt demo`` on the CLI's sub-command parsers."""
    d = sub.add_parser("demo", help="Print a chapter's demo of the book (default: Ch.13, forward pass with loss).",
                       description="Replay what the book's `mygpt` command printed at the end of chapters 2-13, "
                                   "before it learned to train (Ch.18). Takes a second.")
    d.add_argument("--chapter", type=int, default=13, choices=range(2, 14), metavar="N",
                   help="Book chapter, 2-13. Default: 13.")
    d.set_defaults(func=_demo_command)


def _demo_command(args: argparse.Namespace) -> None:
    run_demo(args.chapter)
