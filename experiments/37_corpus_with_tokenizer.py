"""Ch.16: a small corpus turned into an int64 tensor of character ids."""

from mygpt import CharTokenizer

text = "I love AI ! " * 16
tok = CharTokenizer.from_text(text)
data = tok.encode(text)

print(f"text length (chars): {len(text)}")
print(f"vocab_size:          {tok.vocab_size}")
print(f"data shape:          {tuple(data.shape)}")
print(f"data.dtype:          {data.dtype}")
print(f"first 24 ids:        {data[:24].tolist()}")
print(f"decoded[:24]:        {tok.decode(data[:24])!r}")
