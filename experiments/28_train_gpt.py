"""Ch.14: train the toy GPT on the repeated sentence and save its weights."""

import math

import torch

from mygpt import GPT, VOCAB, get_batch, set_seed, to_ids

B, T, STEPS = 4, 8, 200
REPORT = (1, 10, 50, 100, 200)

set_seed(0)
model = GPT(vocab_size=4, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=64, dropout=0.0)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
data = to_ids(["I", "love", "AI", "!"] * 64)

print(f"Training on a length-{len(data)} corpus, batch_size={B}, seq_len={T}")
print(f"Reference: log(V) = log({len(VOCAB)}) = {math.log(len(VOCAB)):.4f}")
print()

set_seed(42)
for step in range(1, STEPS + 1):
    x, y = get_batch(data, B, T)
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    if step in REPORT:
        print(f"step {step:>3}: loss = {loss.item():.4f}")

torch.save(model.state_dict(), "trained_gpt.pt")
print()
print("Saved trained model to trained_gpt.pt")
