"""Ch.28: the word-level BPE trainer and the cached per-word encoder on the same 1 M characters."""

import time

from mygpt import BPETokenizer

with open("wikipedia.txt") as f:
    text = f.read(1_000_000)
print(f"slice: {len(text):,} chars")

start = time.time()
tok = BPETokenizer.from_corpus(text, 1024)
print(f"  from_corpus 1024 merges: {time.time() - start:.1f}s  vocab={tok.vocab_size}")

start = time.time()
ids = tok.encode_corpus(text)
print(f"  encode_corpus:           {time.time() - start:.2f}s  ids={len(ids):,}")
print(f"  unique words cached:     {len(tok._word_cache):,}")
print(f"  compression ratio:       {len(text) / len(ids):.2f}x chars/token")
