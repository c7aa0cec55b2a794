"""Ch.17: Tiny Shakespeare as 65 characters and 1.1 M ids."""

from mygpt import CharTokenizer

with open("tinyshakespeare.txt") as f:
    text = f.read()
tok = CharTokenizer.from_text(text)
data = tok.encode(text)

print(f"corpus chars:   {len(text):,}")
print(f"vocab_size:     {tok.vocab_size}")
print(f"chars:          {tok.chars}")
print()
print(f"data shape:     {tuple(data.shape)}")
print(f"data.dtype:     {data.dtype}")
print(f"first 60 ids:   {data[:60].tolist()}")
