"""What the training tests share: stopping a run in the middle of a step, as Ctrl-C would."""

import os
import signal


def stop_after(step: int, run) -> None:
    """Run ``run()``, sending ourselves SIGINT while step ``step`` is being trained."""
    from mygpt.train import loop

    original, calls = loop.get_batch, []

    def batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    loop.get_batch = batch
    try:
        run()
    finally:
        loop.get_batch = original
