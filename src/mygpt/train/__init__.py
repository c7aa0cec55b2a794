"""Training (Ch.14, Ch.20-21), and what keeps a run safe: ``from mygpt.train import train``.

The wing, in the order a run meets it: ``preflight`` (every check of a run, once, before it starts),
``memory`` (will the shapes fit?), ``loop`` (``train``, ``setup_training``, the train step), ``optim``
(the optimizers), ``distributed`` (several processes through torchrun), ``resume`` (exact
continuation), ``guards`` (saves and NaN watch), ``stops`` (Ctrl-C and SIGTERM), ``metrics`` (the
JSON lines beside a checkpoint) and ``progress`` (the bar).
"""

from .loop import TrainingSetup, make_train_step, setup_training, train, train_checked
from .preflight import CheckedRun, Plan, check_run

__all__ = ["CheckedRun", "Plan", "TrainingSetup", "check_run", "make_train_step", "setup_training", "train",
           "train_checked"]
