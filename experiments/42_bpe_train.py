"""Ch.23: learn 512 BPE merges over the whole of Tiny Shakespeare and save the tokenizer."""

import time

from mygpt import BPETokenizer

with open("tinyshakespeare.txt") as f:
    text = f.read()

start = time.time()
tok = BPETokenizer.from_text(text, num_merges=512)
print(f"training took:    {time.time() - start:.1f}s")
print(f"vocab_size:       {tok.vocab_size}")
print(f"chars (alphabet): {len(tok.chars)}")
print(f"merges:           {len(tok.merges)}")
print()
print(f"first 10 alphabet chars: {tok.chars[:10]}")
print("first 10 merges:")
for i, (a, b) in enumerate(tok.merges[:10], start=1):
    print(f"  {i}. ({a!r}, {b!r}) -> {a + b!r}")

tok.save("shakespeare.bpe.json")
print()
print("saved to shakespeare.bpe.json")
