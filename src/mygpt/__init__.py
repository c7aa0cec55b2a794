"""mygpt: a small, exact GPT-2-style language model library and CLI, as built by the myGPT book."""

# First, before anything imports torch: the fast wing sets OpenMP's wait policy (mygpt.fast.threads).
from . import fast

# isort: split
from . import config, train
from .attention import MultiHeadAttention, SingleHeadAttention, apply_rope, precompute_rope_cache
from .block import TransformerBlock
from .checkpoint import load_checkpoint, save_checkpoint
from .embedding import TokenEmbedding
from .generate import generate
from .mlp import MLP
from .model import GPT
from .norm import LayerNorm, RMSNorm
from .tokenizer import BPETokenizer, CharTokenizer
from .utils import VOCAB, cosine_warmup_lr, estimate_val_loss, get_batch, pick_device, set_seed, to_ids

__version__ = "0.28.0"


def main(argv: list[str] | None = None) -> None:
    """The ``mygpt`` command line (``mygpt.cli.main``), loaded only when called."""
    from .cli import main as cli_main

    cli_main(argv)
