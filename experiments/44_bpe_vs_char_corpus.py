"""Ch.23: the whole corpus with the character tokenizer and with 512-merge BPE."""

import time

from mygpt import BPETokenizer, CharTokenizer

with open("tinyshakespeare.txt") as f:
    text = f.read()
char_tok = CharTokenizer.from_text(text)
bpe_tok = BPETokenizer.load("shakespeare.bpe.json")

start = time.time()
char_ids = char_tok.encode(text)
char_s = time.time() - start
start = time.time()
bpe_ids = bpe_tok.encode(text)
bpe_s = time.time() - start

print(f"corpus chars:           {len(text):,}")
print(f"CharTokenizer ids:      {len(char_ids):,}  ({char_s:.1f}s to encode)")
print(f"BPETokenizer  ids:      {len(bpe_ids):,}  ({bpe_s:.1f}s to encode)")
print(f"BPE compression ratio:  {len(char_ids) / len(bpe_ids):.2f}x")
print(f"Char vocab_size:        {char_tok.vocab_size}")
print(f"BPE  vocab_size:        {bpe_tok.vocab_size}")
