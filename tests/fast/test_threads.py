"""OpenMP's wait policy: mygpt makes waiting threads sleep unless the user chose otherwise."""

import os
import subprocess
import sys

import pytest

SHOW = "import os, sys; {first}; print(os.environ.get('OMP_WAIT_POLICY'))"


@pytest.mark.parametrize("first, env, expected", [
    ("import mygpt", {}, "PASSIVE"),                        # mygpt's default, set before torch loads
    ("import mygpt.config", {}, "PASSIVE"),                 # any part of the package
    ("import mygpt", {"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),  # the user's choice wins
    ("import mygpt", {"GOMP_SPINCOUNT": "1000"}, "None"),   # so does a spin count of their own
    ("import torch; import mygpt", {}, "None"),             # too late once torch has loaded OpenMP
])
def test_wait_policy(first, env, expected):
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    done = subprocess.run([sys.executable, "-c", SHOW.format(first=first)], env={**base, **env},
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected
