"""Ch.17: train the default character-level GPT on Tiny Shakespeare (same run as `mygpt train`)."""

import math
import time

import torch

from mygpt import GPT, CharTokenizer, get_batch, set_seed

B, T, STEPS = 16, 64, 2000
REPORT = (1, 10, 100, 500, 1000, 2000)

with open("tinyshakespeare.txt") as f:
    text = f.read()
tok = CharTokenizer.from_text(text)
data = tok.encode(text)

set_seed(0)
model = GPT(tok.vocab_size, 64, 4, 4, 64, 0.0)
n_params = sum(p.numel() for p in model.parameters())
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

print(f"params:         {n_params:,}")
print(f"vocab_size:     {tok.vocab_size}")
print(f"corpus chars:   {len(text):,}")
print(f"batch_size B:   {B}")
print(f"seq_len T:      {T}")
print(f"reference log(V) = {math.log(tok.vocab_size):.4f}")
print()

set_seed(42)
start = time.time()
for step in range(1, STEPS + 1):
    x, y = get_batch(data, B, T)
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    if step in REPORT:
        print(f"step {step:>4}: loss = {loss.item():.4f}  ({time.time() - start:.1f}s)", flush=True)

torch.save(model.state_dict(), "shakespeare_gpt.pt")
tok.save("shakespeare_tokenizer.json")
print()
print("Saved shakespeare_gpt.pt and shakespeare_tokenizer.json")
