"""Ch.14: a repeated-sentence corpus and one random batch of next-token windows."""

from mygpt import get_batch, set_seed, to_ids

set_seed(0)
data = to_ids(["I", "love", "AI", "!"] * 64)
print(f"Corpus length: {len(data)} tokens")
print(f"First 12 tokens: {data[:12].tolist()}")
print()

set_seed(42)
x, y = get_batch(data, 4, 8)
print(f"x shape: {tuple(x.shape)}")
print(f"y shape: {tuple(y.shape)}")
print()
print("x (first row):", x[0].tolist())
print("y (first row):", y[0].tolist())
print("(y is x shifted left by one — the next-token target.)")
