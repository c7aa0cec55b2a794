"""Ch.17: sample 200 characters after "ROMEO:" from the trained Shakespeare model."""

import torch

from mygpt import GPT, CharTokenizer, generate, set_seed

tok = CharTokenizer.load("shakespeare_tokenizer.json")
set_seed(0)
model = GPT(tok.vocab_size, 64, 4, 4, 64, 0.0)
model.load_state_dict(torch.load("shakespeare_gpt.pt"))

set_seed(0)
prompt = tok.encode("ROMEO:").unsqueeze(0)
out = generate(model, prompt, max_new_tokens=200, temperature=1.0, top_k=10)
print(tok.decode(out[0]))
