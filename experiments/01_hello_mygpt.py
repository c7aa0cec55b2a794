"""Ch.2: the running example's four-token vocabulary."""

from mygpt import VOCAB

print(f"Vocabulary size V = {len(VOCAB)}")
for i, token in enumerate(VOCAB):
    print(f"  id {i}: {token!r}")
