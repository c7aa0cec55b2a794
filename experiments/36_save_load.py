"""Ch.16: a tokenizer survives a save/load round trip through JSON."""

from mygpt import CharTokenizer

tok = CharTokenizer.from_text("I love AI !")
tok.save("tokenizer.json")
print(f"saved tokenizer.json (vocab_size={tok.vocab_size})")
loaded = CharTokenizer.load("tokenizer.json")
print(f"loaded tokenizer.json (vocab_size={loaded.vocab_size})")

sample = "love AI"
original, reloaded = tok.encode(sample).tolist(), loaded.encode(sample).tolist()
print(f"sample:        {sample!r}")
print(f"original ids:  {original}")
print(f"reloaded ids:  {reloaded}")
print(f"identical:     {original == reloaded}")
