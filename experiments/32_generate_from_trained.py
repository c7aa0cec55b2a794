"""Ch.15: the package's generate() with top_k=1 reproduces the greedy output."""

import torch

from mygpt import GPT, VOCAB, generate, set_seed

set_seed(0)
model = GPT(vocab_size=4, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=64, dropout=0.0)
model.load_state_dict(torch.load("trained_gpt.pt"))

out = generate(model, torch.tensor([[0]]), max_new_tokens=7, top_k=1)
print("prompt:", [VOCAB[0]])
print("output:", [VOCAB[i] for i in out[0].tolist()])
