"""Ch.28: how the teaching BPE (whole-text trainer, Ch.23 encoder) scales to 1 M characters."""

import time

from mygpt import BPETokenizer

with open("wikipedia.txt") as f:
    text = f.read(1_000_000)
print(f"slice: {len(text):,} chars")

start = time.time()
tok = BPETokenizer.from_text(text, num_merges=128)
print(f"  from_text 128 merges:  {time.time() - start:.1f}s  vocab={tok.vocab_size}")

start = time.time()
ids = tok.encode(text)
print(f"  encode (Ch.23 path):   {time.time() - start:.1f}s  ids={len(ids):,}")
