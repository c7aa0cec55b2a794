"""Ch.3: a hand-written nn.Module with two parameters, a forward pass and gradients."""

import torch
from torch import nn


class Affine(nn.Module):
    """y = x @ weight.T + bias."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T + self.bias


torch.manual_seed(0)
layer = Affine(3, 2)
print("Parameters in Affine(3, 2):")
for name, p in layer.named_parameters():
    print(f"  {name}: shape={tuple(p.shape)}, requires_grad={p.requires_grad}")
print(f"Total: {sum(p.numel() for p in layer.parameters())} parameters")
print()

x = torch.randn(4, 3)
y = layer(x)
print(f"Forward pass: input shape {tuple(x.shape)} -> output shape {tuple(y.shape)}")
print()

y.sum().backward()
print("After backward, gradient shapes:")
for name, p in layer.named_parameters():
    print(f"  {name}.grad: shape={tuple(p.grad.shape)}")
