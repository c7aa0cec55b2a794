"""Ch.15: greedy decoding by hand: append the argmax token seven times."""

import torch

from mygpt import GPT, VOCAB, set_seed

set_seed(0)
model = GPT(vocab_size=4, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=64, dropout=0.0)
model.load_state_dict(torch.load("trained_gpt.pt"))
model.eval()

ids = torch.tensor([[0]])
for _ in range(7):
    with torch.no_grad():
        logits, _ = model(ids)
    next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)
    ids = torch.cat([ids, next_id], dim=1)

print("prompt:", [VOCAB[0]])
print("output:", [VOCAB[i] for i in ids[0].tolist()])
