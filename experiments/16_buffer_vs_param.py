"""Ch.7: parameters are trained, buffers are not, and both are saved."""

import torch
from torch import nn


class WithBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2))
        self.register_buffer("offset", torch.ones(2))


m = WithBuffer()
print("named_parameters:")
for name, p in m.named_parameters():
    print(f"  {name}: shape={tuple(p.shape)}, requires_grad={p.requires_grad}")
print()
print("named_buffers:")
for name, b in m.named_buffers():
    print(f"  {name}: shape={tuple(b.shape)}, requires_grad={b.requires_grad}")
print()
print(f"len(list(m.parameters())) = {len(list(m.parameters()))}  # only the learnable bit")
print(f"len(m.state_dict())       = {len(m.state_dict())}  # parameters AND buffers — both saved")
