"""Ch.14: the trained toy model predicts the next token of every prefix of the cycle."""

import torch

from mygpt import GPT, VOCAB, set_seed

set_seed(0)
model = GPT(vocab_size=4, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=64, dropout=0.0)
model.load_state_dict(torch.load("trained_gpt.pt"))
model.eval()

print("Trained model's argmax next-token prediction:")
print()
for length in range(1, 9):
    prefix = [i % 4 for i in range(length)]
    with torch.no_grad():
        logits, _ = model(torch.tensor([prefix]))
    predicted = logits[0, -1].argmax().item()
    expected = (prefix[-1] + 1) % 4
    verdict = "OK" if predicted == expected else "WRONG"
    print(f"  prefix={prefix!s:<28}  predicted={VOCAB[predicted]!r:<7}  "
          f"expected={VOCAB[expected]!r:<7}  {verdict}")
