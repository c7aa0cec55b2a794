"""Ch.3: token ids and their one-hot rows."""

import torch.nn.functional as F

from mygpt import VOCAB, to_ids

ids = to_ids(["I", "love", "AI", "!"])
print("ids:  ", ids)
print(f"shape: {tuple(ids.shape)}")
print()

one_hot = F.one_hot(ids, num_classes=len(VOCAB)).float()
print(f"one-hot shape: {tuple(one_hot.shape)}  # (T, V) = {tuple(one_hot.shape)}")
print("one-hot rows (one row per token, V columns):")
print(one_hot)
