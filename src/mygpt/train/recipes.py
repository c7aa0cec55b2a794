"""Named recipes: tuned model and training settings for a goal, typed as ``mygpt train --recipe NAME``.

A recipe is a set of ``GPTConfig`` and ``TrainConfig`` field values; on the command line it fills
every flag that is not given, so ``--recipe fast-cpu --steps 500`` keeps the rest of the recipe. The
figures behind each recipe (machine, threads, load, curves) are in docs/time-to-loss.md.
"""

import dataclasses
from dataclasses import dataclass, field

from ..config import GPTConfig, TrainConfig


@dataclass(frozen=True)
class Recipe:
    """``model`` and ``train``: field values of ``GPTConfig`` and ``TrainConfig``; ``summary``: what it is for."""

    summary: str
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    def __post_init__(self):
        for cls, values in ((GPTConfig, self.model), (TrainConfig, self.train)):
            unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
            if unknown:
                raise ValueError(f"recipe fields unknown to {cls.__name__}: {sorted(unknown)}")

    def settings(self) -> dict:
        """Every field value of the recipe, the model's and the training's together."""
        return {**self.model, **self.train}

    def configs(self, vocab_size: int, **train_overrides) -> tuple[GPTConfig, TrainConfig]:
        """The recipe as configs, for Python users: ``train_overrides`` replace training fields."""
        return GPTConfig(vocab_size=vocab_size, **self.model), TrainConfig(**{**self.train, **train_overrides})


# The modern model: rotary positions and RMSNorm (Ch.24-25) with the one speedrun option that measured
# better here, an untied head (QK-norm, ReLU², zero-init and the soft-cap did not: docs/time-to-loss.md);
# trained with Muon, a cosine schedule and clipping.
_MODERN = {"norm_type": "rms", "position_type": "rope", "untied_head": True}
_TRAINING = {"optimizer": "muon", "schedule": "cosine", "max_grad_norm": 1.0, "fast": True, "precision": "bf16"}

RECIPES = {
    "fast-cpu": Recipe(
        "a small char-level model with Muon, about 2 minutes of one CPU core; val 1.61 on Tiny "
        "Shakespeare (docs/time-to-loss.md)",
        model={**_MODERN, "embed_dim": 64, "num_heads": 4, "num_layers": 4, "max_seq_len": 64},
        train={**_TRAINING, "steps": 2600, "batch_size": 16, "seq_len": 64, "lr": 6e-3, "muon_lr": 0.02,
               "warmup": 100}),
}
