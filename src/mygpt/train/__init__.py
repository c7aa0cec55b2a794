"""Training (Ch.14, Ch.20-21), and what keeps a run safe: ``from mygpt.train import train``.

The wing, in the order a run meets it: ``loop`` (``train``, ``setup_training``, the train step),
``optim`` (the optimizers), ``memory`` (will the shapes fit?), ``distributed`` (several processes
through torchrun), ``resume`` (exact continuation), ``guards`` (saves and NaN watch), ``stops``
(Ctrl-C and SIGTERM), ``metrics`` (the JSON lines beside a checkpoint) and ``progress`` (the bar).
"""

from .loop import TrainingSetup, make_train_step, setup_training, train

__all__ = ["TrainingSetup", "make_train_step", "setup_training", "train"]
