"""Ch.15: generating past the training length T=8 lets the model drift."""

import torch

from mygpt import GPT, VOCAB, generate, set_seed

set_seed(0)
model = GPT(vocab_size=4, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=64, dropout=0.0)
model.load_state_dict(torch.load("trained_gpt.pt"))

out = generate(model, torch.tensor([[0]]), max_new_tokens=12, top_k=1)
got = [VOCAB[i] for i in out[0].tolist()]
expected = [VOCAB[i % 4] for i in range(len(got))]
print("output:  ", got)
print("expected:", expected)
print()
for t, (g, want) in enumerate(zip(got, expected)):
    print(f"  position {t}: got={g!r:<7} expected={want!r:<7} {'OK' if g == want else 'DRIFT'}")
