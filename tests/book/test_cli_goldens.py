"""Every training and sampling golden of golden/cli/ reproduced by the real command line.

Each run is ``python -m mygpt ...`` in a scratch directory holding a link to Tiny Shakespeare, as the
goldens were made. A training run happens once per module and its checkpoint serves every generate
golden made from it. The training runs are slow (1-2 minutes each on two cores) and marked so.

The two 2,000-step bf16 goldens run in full only where the CPU has native bf16 matmuls; elsewhere bf16
is about ten times slower than fp32 and they are checked by shorter runs against the goldens' early
lines (``SHORT_BF16``), which exercise the same autocast path.
"""

from pathlib import Path

import pytest
import torch
from support.cli import run_mygpt
from support.data import SKIP_NO_SHAKESPEARE, shakespeare_path
from support.goldens import assert_matches_golden, assert_matches_text, golden_text

from mygpt.fast import bf16_is_slow

# golden name -> train arguments (after "train tinyshakespeare.txt --device cpu"), loss tolerance.
TRAIN_RUNS = {
    "default": (["--output", "sh-default.ckpt"], None),
    "hardened": (["--val-split", "0.1", "--val-every", "500", "--schedule", "cosine", "--warmup", "100",
                  "--max-grad-norm", "1.0", "--output", "sh-hardened.ckpt"], None),
    "rms": (["--norm", "rms", "--output", "sh-rms.ckpt"], None),
    "rope": (["--position", "rope", "--output", "sh-rope.ckpt"], None),
    "gqa": (["--num-kv-heads", "2", "--output", "sh-gqa.ckpt"], None),
    "bf16": (["--precision", "bf16", "--output", "sh-bf16.ckpt"], 0.01),
    "modern_bf16": (["--precision", "bf16", "--schedule", "cosine", "--warmup", "100", "--max-grad-norm",
                     "1.0", "--norm", "rms", "--position", "rope", "--num-kv-heads", "2",
                     "--output", "sh-modern.ckpt"], 0.01),
    "small": (["--val-split", "0.2", "--val-every", "30", "--steps", "100", "--print-every", "40",
               "--max-grad-norm", "0.5", "--lr", "3e-3", "--batch-size", "8", "--seq-len", "32",
               "--embed-dim", "32", "--num-heads", "2", "--num-layers", "2", "--max-seq-len", "48",
               "--output", "sh-small.ckpt"], None),
    "dropout": (["--dropout", "0.1", "--steps", "60", "--print-every", "20", "--embed-dim", "32",
                 "--num-heads", "4", "--num-layers", "2", "--output", "sh-dropout.ckpt"], None),
    "mqa": (["--num-kv-heads", "1", "--steps", "200", "--print-every", "50", "--output", "sh-mqa.ckpt"], None),
    "modern_fp32": (["--schedule", "cosine", "--warmup", "100", "--max-grad-norm", "1.0", "--norm", "rms",
                     "--position", "rope", "--num-kv-heads", "2", "--output", "sh-modern-fp32.ckpt"], None),
    "bpe": (["--tokenizer", "bpe", "--num-merges", "256", "--bpe-train-bytes", "200000", "--steps", "400",
             "--print-every", "100", "--checkpoint-every", "150", "--output", "sh-bpe.ckpt"], None),
}

# Without native bf16: the bf16 goldens' first lines from shorter runs. A constant schedule makes the
# 500-step run's lines those of the 2,000-step run; the cosine schedule depends on the run's length,
# so only step 1 (warm-up from 0) is shared with a 1-step run.
NATIVE_BF16 = not bf16_is_slow(torch.device("cpu"))
SHORT_BF16 = {"bf16": 500, "modern_bf16": 1}

# generate golden -> (training run whose checkpoint it reads, extra generate arguments).
GENERATE_RUNS = {
    "default": ("default", []),
    "default_20": ("default", ["--max-new-tokens", "20"]),
    "default_sampling": ("default", ["--temperature", "0.8", "--top-k", "5", "--seed", "123",
                                     "--max-new-tokens", "100"]),
    "hardened": ("hardened", []),
    "rms": ("rms", []),
    "rope": ("rope", []),
    "gqa": ("gqa", []),
    "small": ("small", ["--prompt", "JULIET:", "--max-new-tokens", "80", "--top-k", "3"]),
    "mqa": ("mqa", ["--max-new-tokens", "40"]),
    "modern_fp32": ("modern_fp32", []),
    "bpe": ("bpe", ["--max-new-tokens", "60"]),
}

BOOK_CHECKPOINT_KEYS = ["model_state_dict", "tokenizer_chars", "tokenizer_kind", "tokenizer_state", "config"]
BOOK_CONFIG_KEYS = ["vocab_size", "embed_dim", "num_heads", "num_kv_heads", "num_layers", "max_seq_len",
                    "norm_type", "position_type", "tokenizer_kind"]


class Runs:
    """Runs each training golden at most once in a shared directory and remembers its stdout."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.stdout: dict[str, str] = {}

    def train(self, name: str, extra: tuple[str, ...] = ()) -> str:
        key = (name, *extra)
        if key not in self.stdout:
            args, _ = TRAIN_RUNS[name]
            result = run_mygpt(["train", "tinyshakespeare.txt", "--device", "cpu", *args, *extra], self.workdir)
            assert result.returncode == 0, result.stderr
            if not extra:
                assert result.stderr == "", "stderr must stay empty when it is not a terminal"
            self.stdout[key] = result.stdout
        return self.stdout[key]

    def checkpoint(self, name: str) -> Path:
        self.train(name)
        args, _ = TRAIN_RUNS[name]
        return self.workdir / args[args.index("--output") + 1]

    def generate(self, train_name: str, extra: list[str]) -> str:
        ckpt = self.checkpoint(train_name)
        args = ["generate", "--checkpoint", ckpt.name, "--device", "cpu", *extra]
        if "--prompt" not in extra:
            args += ["--prompt", "ROMEO:"]
        result = run_mygpt(args, self.workdir)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    source = shakespeare_path()
    if source is None:
        pytest.skip(SKIP_NO_SHAKESPEARE)
    workdir = tmp_path_factory.mktemp("cli-goldens")
    (workdir / "tinyshakespeare.txt").symlink_to(source)
    return Runs(workdir)


def _full_run(name: str):
    needs_native = name in SHORT_BF16 and not NATIVE_BF16
    marks = [pytest.mark.slow]
    if needs_native:
        marks.append(pytest.mark.skip(reason="2,000 bf16 steps need a CPU with native bf16 matmuls "
                                             "(AVX-512-BF16/AMX); test_bf16_golden_early_lines runs instead"))
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_full_run(name) for name in TRAIN_RUNS])
def test_train_golden(runs, name):
    assert_matches_golden(runs.train(name), f"cli/train_{name}.txt", tolerance=TRAIN_RUNS[name][1])


@pytest.mark.slow
@pytest.mark.skipif(NATIVE_BF16, reason="this CPU has native bf16: the full bf16 goldens run instead")
@pytest.mark.parametrize("name", list(SHORT_BF16))
def test_bf16_golden_early_lines(runs, name):
    steps = SHORT_BF16[name]
    golden = golden_text(f"cli/train_{name}.txt").replace("steps:        2000", f"steps:        {steps}")
    early = [line for line in golden.split("\n")
             if not line.startswith("step ") or int(line.split(":")[0].split()[1]) <= steps]
    assert_matches_text(runs.train(name, ("--steps", str(steps))), "\n".join(early), f"cli/train_{name}.txt",
                        tolerance=TRAIN_RUNS[name][1])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(GENERATE_RUNS))
def test_generate_golden(runs, name):
    train_name, extra = GENERATE_RUNS[name]
    assert_matches_golden(runs.generate(train_name, extra), f"cli/generate_{name}.txt")


@pytest.mark.slow
@pytest.mark.skipif(not NATIVE_BF16, reason="needs the full modern bf16 run (a CPU with native bf16)")
def test_generate_modern_bf16_has_the_golden_shape(runs):
    """The sample of a bf16-trained model is informational: check its shape, not its letters."""
    out = runs.generate("modern_bf16", [])
    golden = golden_text("cli/generate_modern_bf16.txt")
    assert out.startswith("device: cpu\n\nROMEO:")
    assert len(out) == len(golden) and out.endswith("\n")


@pytest.mark.slow
def test_checkpoint_keeps_the_book_keys_and_adds_training_state(runs):
    ckpt = torch.load(runs.checkpoint("default"), map_location="cpu", weights_only=True)
    assert list(ckpt)[:5] == BOOK_CHECKPOINT_KEYS
    assert list(ckpt["config"]) == BOOK_CONFIG_KEYS
    assert set(ckpt) - set(BOOK_CHECKPOINT_KEYS) == {"torch_version", "training_state"}
    assert ckpt["training_state"]["step"] == 2000
    assert not list(runs.workdir.glob("*.tmp")), "atomic saves leave no temp file"


@pytest.mark.slow
def test_periodic_checkpoints_carry_their_step(runs):
    ckpt = torch.load(runs.checkpoint("bpe"), map_location="cpu", weights_only=True)
    assert ckpt["tokenizer_kind"] == "bpe" and ckpt["training_state"]["step"] == 400
