"""Ch.16: CharTokenizer encodes to ids and decodes back."""

from mygpt import CharTokenizer

text = "I love AI ! I love AI !"
tok = CharTokenizer.from_text(text)
ids = tok.encode(text)
decoded = tok.decode(ids)

print(f"text:       {text!r}")
print(f"vocab_size: {tok.vocab_size}")
print(f"ids shape:  {tuple(ids.shape)}")
print(f"first 12 ids: {ids[:12].tolist()}")
print(f"decoded:    {decoded!r}")
print(f"round-trip ok: {decoded == text}")
