"""Validation loss of a checkpoint over the whole held-out split, not a few random batches.

    python benchmarks/full_val_loss.py model.ckpt tinyshakespeare.txt [--val-split 0.1]

``mygpt train --val-every`` estimates the loss from 10 random batches (Ch.21), which moves by a few
hundredths from one estimate to the next; comparing recipes needs the steadier figure. This splits the
text as ``mygpt train --val-split`` does (the last fraction of the tokens), cuts the held-out part
into consecutive windows of the model's context and prints the mean next-token loss over all of them
as JSON.
"""

import argparse
import json

import torch
import torch.nn.functional as F

from mygpt import load_checkpoint


@torch.no_grad()
def full_val_loss(checkpoint: str, text_path: str, val_split: float = 0.1, batch_size: int = 64) -> dict:
    model, tokenizer = load_checkpoint(checkpoint)
    model.eval().set_fast(True)
    with open(text_path, encoding="utf-8") as f:
        data = tokenizer.encode(f.read())
    val = data[int((1.0 - val_split) * len(data)):]
    T = model.max_seq_len
    n = (len(val) - 1) // T
    x = val[: n * T].view(n, T)
    y = val[1 : n * T + 1].view(n, T)
    total = 0.0
    for i in range(0, n, batch_size):
        logits, _ = model(x[i : i + batch_size])
        total += F.cross_entropy(logits.flatten(0, 1), y[i : i + batch_size].flatten(), reduction="sum").item()
    return {"checkpoint": checkpoint, "val_tokens": n * T, "context": T, "val_loss": total / (n * T)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("text")
    parser.add_argument("--val-split", type=float, default=0.1)
    args = parser.parse_args()
    print(json.dumps(full_val_loss(args.checkpoint, args.text, args.val_split)))


if __name__ == "__main__":
    main()
