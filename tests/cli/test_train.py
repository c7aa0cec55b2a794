"""``mygpt train`` reads top to bottom: its arguments resolved once into frozen objects, one preflight
that makes every check once, then training and the report."""

import dataclasses
import sys

import pytest
from support.cli import TEXT, TINY

from mygpt.cli import _build_parser, main
from mygpt.cli.train import resolve
from mygpt.config import TrainConfig
from mygpt.train import preflight as preflight_module


def test_the_command_line_is_resolved_once_into_frozen_objects(tmp_path):
    """``resolve`` reads the arguments and never writes them; what it returns cannot be changed."""
    (tmp_path / "t.txt").write_text(TEXT)
    args = _build_parser().parse_args(["train", str(tmp_path / "t.txt"), "--norm", "rms", "--steps", "3"])
    before = dict(vars(args))
    plan, invocation = resolve(args)
    assert vars(args) == before
    assert (plan.model.norm_type, plan.model.embed_dim, plan.training.steps, plan.training.print_every) == (
        "rms", 64, 3, 500)
    for frozen in (plan, plan.model, plan.training, plan.data, invocation):
        with pytest.raises(dataclasses.FrozenInstanceError):
            frozen.steps = 1


CHECKS = {  # every check a one-process run meets (``check_parts`` too with several processes)
    preflight_module: ("check_new_file", "check_run_outputs", "check_training_memory", "check_disk_space",
                       "resumable_state", "check_resume"),
    TrainConfig: ("check_parts", "check_model", "check_data"),
}
ONE_PROCESS = sorted(name for names in CHECKS.values() for name in names if name != "check_parts")


def test_every_check_runs_once_per_run(tmp_path, monkeypatch, capsys):
    """The CLI checks through the preflight only, and training does not check again (a resumed run meets all).

    Not counted: a config checking itself when it is made (``__post_init__``), here the run's and the
    resumed checkpoint's ``TrainConfig``.
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.txt").write_text(TEXT)
    main(["train", "t.txt", *TINY, "--output", "m.ckpt"])
    calls = []
    for owner, names in CHECKS.items():
        for name in names:
            real = getattr(owner, name)

            def counted(*args, real=real, name=name, **kwargs):
                if sys._getframe(1).f_code.co_name != "__post_init__":
                    calls.append(name)
                return real(*args, **kwargs)

            monkeypatch.setattr(owner, name, counted)
    main(["train", "t.txt", *TINY, "--steps", "3", "--output", "m.ckpt", "--resume", "m.ckpt"])
    assert "step     3:" in capsys.readouterr().out
    assert sorted(calls) == ONE_PROCESS, " ".join(calls)
