"""How mygpt's CPU threads wait: asleep, not spinning, so a busy neighbour cannot make a run collapse.

Between two parallel operations, OpenMP's threads spin by default (GNU OpenMP for up to ~300,000
iterations) waiting for the next one. On a machine whose cores are all taken (another busy process
on one of two cores), a spinning thread burns the time slice its partner needs, and every operation
waits for a descheduled thread: a 2-thread run was measured 12x slower beside one busy process.
Sleeping waits (``OMP_WAIT_POLICY=PASSIVE``) cost nothing measurable alone and slow such a run only
in proportion to the cores the neighbour takes (docs/time-to-loss.md, ``benchmarks/under_load.py``).

OpenMP reads the policy once, when torch loads it, so ``mygpt`` sets it before importing torch, and
only where the user set none: ``OMP_WAIT_POLICY=ACTIVE`` (or ``GOMP_SPINCOUNT``) in the environment
wins, and so does a torch imported before mygpt. ``OMP_NUM_THREADS`` chooses the thread count as
usual (default: one per core).
"""

import os
import sys

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"


def prefer_sleeping_threads() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user chose a policy or torch is already loaded;
    returns whether the policy in force is mygpt's."""
    if "torch" in sys.modules or WAIT_POLICY_ENV in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return os.environ.get(WAIT_POLICY_ENV, "").upper() == "PASSIVE"
    os.environ[WAIT_POLICY_ENV] = "PASSIVE"
    return True
