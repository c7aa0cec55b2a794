"""Ch.16: a character alphabet and its two lookup tables."""

text = "I love AI !"
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
itos = {i: c for i, c in enumerate(chars)}

print(f"text:        {text!r}")
print(f"vocab_size:  {len(chars)}")
print(f"chars:       {chars}")
print(f"stoi:        {stoi}")
print(f"itos:        {itos}")
