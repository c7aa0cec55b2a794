"""Shared fixtures: Tiny Shakespeare, the book's experiment workspace, and global state kept clean."""

import signal
from pathlib import Path

import pytest
import torch
from support.data import SKIP_NO_SHAKESPEARE, shakespeare_path
from support.experiments import Workspace


@pytest.fixture
def shakespeare() -> Path:
    path = shakespeare_path()
    if path is None:
        pytest.skip(SKIP_NO_SHAKESPEARE)
    return path


@pytest.fixture(scope="session")
def book_dir(tmp_path_factory) -> Workspace:
    """The book's working directory (with Tiny Shakespeare when available), shared by every test that
    needs an experiment's output or files, so that each experiment runs at most once per session."""
    directory = tmp_path_factory.mktemp("experiments")
    source = shakespeare_path()
    if source is not None:
        (directory / "tinyshakespeare.txt").symlink_to(source)
    return Workspace(directory)


@pytest.fixture
def ctrl_c_reaches_children():
    """Child processes started in the test take SIGINT as a terminal's Ctrl-C, however the suite was started.

    A suite run in the background by a shell without job control (``pytest &`` in a script, some CI
    runners) starts with SIGINT ignored, every child inherits that, and Python keeps an inherited
    "ignore" (as every POSIX program should: that is how background jobs survive Ctrl-C). A test that
    Ctrl-Cs a child would then wait for a child that never hears it. While this fixture is active SIGINT
    is handled here, and a handled signal is reset to its default in a child at ``exec``.
    """
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture(autouse=True)
def _restore_global_torch_state():
    """Undo what a test changes globally: TF32 switches, thread count, grad mode, default dtype."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.get_num_threads(),
             torch.is_grad_enabled(), torch.get_default_dtype())
    yield
    (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, threads, grad, dtype) = saved
    torch.set_num_threads(threads)
    torch.set_grad_enabled(grad)
    torch.set_default_dtype(dtype)
