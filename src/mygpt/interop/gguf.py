"""GGUF, llama.cpp's model file: a mygpt model that llama.cpp (and the apps built on it) loads and runs.

The file is written with the ``gguf`` package that llama.cpp publishes. The graph is llama.cpp's
``gpt2`` architecture, which is mygpt's GPT with its GPT-2 options: pre-norm blocks, LayerNorm eps
1e-5, learned positions, one fused QKV projection, a tied head, 1/sqrt(d) scale. The tensors are the
Hugging Face export's (``hf.state_dict_to_hf``: zero biases where the book's attention has none) in
llama.cpp's names and layout, in float32. Two differences are reported, not refused:

- GELU: llama.cpp's GPT-2 graph has only the tanh approximation (on a CPU read from a float16
  table). A book model uses the exact erf GELU; the two differ by at most 4.8e-4 per activation, less
  than llama.cpp's own table rounding, and no llama.cpp decoder has an erf GELU to map to instead.
- RMSNorm, RoPE and grouped-query attention are not in the ``gpt2`` graph: refused, as for GPT-2.

The tokenizer becomes llama.cpp's byte-level BPE (``tokenizer.ggml.model = gpt2``), which can express
all three of mygpt's kinds exactly:

- byte-level BPE: GPT-2's own tokenizer, pre-tokenizer ``gpt-2``.
- char: one token per character, written as the byte-level form of its UTF-8 bytes; a character of
  several bytes is formed by merges of its bytes, ranked before any other merge.
- book BPE: its alphabet as for char, then its merges in order. Its words (``\\s*\\S+``) are not one of
  llama.cpp's fixed pre-tokenizers, but merges never cross them, so a pre-tokenizer that splits less
  gives the same tokens: ``superbpe`` splits only around digits (and digit runs in threes), so a BPE
  none of whose merges joins a digit to a neighbour is exact; one that does is refused.

llama.cpp needs every token's text to be unique (a book BPE that made one string by two merges is
refused) and an end-of-text token (added as in ``end_of_text`` where the tokenizer has none).
"""

import os
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field

from ..checkpoint import tokenizer_state
from ..errors import InteropError, MissingExtraError
from ..files.outputs import OutputKind, check_new_file, write_output
from ..model import GPT
from ..tokenizer import END_OF_TEXT, BPETokenizer, ByteBPETokenizer, CharTokenizer
from .end_of_text import EndOfText, with_end_of_text
from .hf import check_exportable, state_dict_to_hf

ARCHITECTURE = "gpt2"
_KIND_FIELD = "mygpt.tokenizer_kind"  # written into every GGUF file mygpt makes


def _is_our_gguf(path: str) -> bool:
    """Whether ``path`` is a GGUF file ``save_gguf`` wrote (the only kind of file it may replace)."""
    try:
        return _KIND_FIELD in require_gguf().GGUFReader(path).fields
    except (OSError, ValueError, KeyError, IndexError, TypeError):  # not GGUF, truncated, unreadable: not ours
        return False


GGUF_FILE = OutputKind("a GGUF file written by mygpt", "GGUF files", _is_our_gguf, InteropError)
_LAYER_NORM_EPS = 1e-5
# GPT-2's Hugging Face tensor names -> llama.cpp's (``blk.{i}.`` for ``h.{i}.``).
_NAMES = {"wte": "token_embd", "wpe": "position_embd", "ln_f": "output_norm", "ln_1": "attn_norm",
          "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm", "mlp.c_fc": "ffn_up",
          "mlp.c_proj": "ffn_down"}


def require_gguf():
    """The ``gguf`` package (the ``gguf`` extra)."""
    try:
        import gguf
    except ImportError as err:
        raise MissingExtraError("writing GGUF files needs the `gguf` package: pip install 'mygpt[gguf]'") from err
    return gguf


def _byte_encoder() -> dict[int, str]:
    """GPT-2's map from bytes to printable characters (what byte-level BPE tokens are written in)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return {b: chr(b if b in printable else next(extra)) for b in range(256)}


_BYTES = _byte_encoder()


def byte_level(text: str) -> str:
    """``text``'s UTF-8 bytes in GPT-2's byte-level alphabet (a space is ``Ġ``, a newline ``Ċ``)."""
    return "".join(_BYTES[b] for b in text.encode("utf-8"))


@dataclass
class Vocabulary:
    """A tokenizer as llama.cpp's byte-level BPE reads it: token texts and types by id, merges by rank."""

    tokens: list[str]
    types: list[int]
    merges: list[str]
    pre: str
    notes: list[str] = field(default_factory=list)


def _char_merges(chars: list[str]) -> list[str]:
    """Merges that join the bytes of every several-byte character, shortest prefixes first."""
    merges: dict[str, None] = {}
    depth = max((len(c.encode("utf-8")) for c in chars), default=1)
    for level in range(1, depth):
        for c in chars:
            pieces = [_BYTES[b] for b in c.encode("utf-8")]
            if len(pieces) > level:
                merges["".join(pieces[:level]) + " " + pieces[level]] = None
    return list(merges)


def _is_digit(char: str) -> bool:
    return unicodedata.category(char).startswith("N")


def _book_vocabulary(tokenizer: CharTokenizer | BPETokenizer, gguf) -> Vocabulary:
    strings = tokenizer.vocab if isinstance(tokenizer, BPETokenizer) else tokenizer.chars
    seen: dict[str, int] = {}
    for i, text in enumerate(strings):
        if text in seen:
            raise InteropError(f"the BPE vocabulary has {text!r} twice (ids {seen[text]} and {i}, made by two "
                               "merges); llama.cpp needs every token's text to be unique")
        seen[text] = i
    if END_OF_TEXT in seen:
        raise InteropError(f"the vocabulary has {END_OF_TEXT} as ordinary text; llama.cpp would read it as "
                           "the end-of-text token")
    merges = _char_merges(tokenizer.chars)
    if isinstance(tokenizer, BPETokenizer):
        for a, b in tokenizer.merges:
            if _is_digit(a[-1]) or _is_digit(b[0]):
                raise InteropError(f"the BPE merge {a!r} + {b!r} joins a digit to its neighbour; llama.cpp's "
                                   "pre-tokenizers all split there, so its tokens would differ")
        merges += [byte_level(a) + " " + byte_level(b) for a, b in tokenizer.merges]
    return Vocabulary([byte_level(s) for s in strings], [gguf.TokenType.NORMAL] * len(strings), merges,
                      pre="superbpe")


def _bytebpe_vocabulary(tokenizer: ByteBPETokenizer, gguf) -> Vocabulary:
    import json

    state = json.loads(tokenizer.to_json())
    vocab = dict(state["model"]["vocab"])
    special = {t["content"]: t["id"] for t in state.get("added_tokens", [])}
    vocab.update(special)
    tokens: list[str | None] = [None] * (max(vocab.values(), default=-1) + 1)
    for text, i in vocab.items():
        tokens[i] = text
    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]]
    return Vocabulary(tokens, types, merges, pre="gpt-2")


def gguf_vocabulary(tokenizer, vocab_size: int, eos: EndOfText, gguf) -> Vocabulary:
    """The tokens, types and merges of ``tokenizer`` for a model of ``vocab_size`` rows (``eos`` included).

    Rows the tokenizer has no token for (an imported model's padding) become unused placeholders.
    """
    if isinstance(tokenizer, ByteBPETokenizer):
        vocabulary = _bytebpe_vocabulary(tokenizer, gguf)
    else:
        vocabulary = _book_vocabulary(tokenizer, gguf)
    tokens, types = vocabulary.tokens, vocabulary.types
    if eos.added:
        tokens += [None] * (eos.id + 1 - len(tokens))
        types += [gguf.TokenType.UNUSED] * (len(tokens) - len(types))
        tokens[eos.id], types[eos.id] = END_OF_TEXT, gguf.TokenType.CONTROL
    if len(tokens) > vocab_size:
        raise InteropError(f"the tokenizer has {len(tokens)} tokens but the model only {vocab_size}")
    tokens += [None] * (vocab_size - len(tokens))
    types += [gguf.TokenType.UNUSED] * (vocab_size - len(types))
    for i, text in enumerate(tokens):
        if text is None:
            tokens[i], types[i] = f"<|mygpt_unused_{i}|>", gguf.TokenType.UNUSED
    return vocabulary


def gguf_tensors(model: GPT) -> dict[str, "object"]:
    """llama.cpp's tensors (float32 numpy arrays, PyTorch's ``(out, in)`` layout) of a GPT-2-form model."""
    tensors = {}
    for name, value in state_dict_to_hf(model).items():
        name = name.removeprefix("transformer.")
        layer = None
        if name.startswith("h."):
            _, layer, name = name.split(".", 2)
        module, kind = name.rsplit(".", 1)
        if kind == "weight" and value.dim() == 2 and module not in ("wte", "wpe"):
            value = value.t()  # Hugging Face's Conv1D stores (in, out)
        prefix = "" if layer is None else f"blk.{layer}."
        tensors[f"{prefix}{_NAMES[module]}.{kind}"] = value.contiguous().numpy()
    return tensors


@dataclass(frozen=True)
class GGUFExport:
    """What ``save_gguf`` wrote: the end-of-text token, the pre-tokenizer and what the user should know."""

    eos: EndOfText
    pre: str
    notes: tuple[str, ...]


def check_gguf_exportable(model: GPT, tokenizer) -> None:
    """Refuse, in one line saying why, a model or tokenizer llama.cpp's GPT-2 cannot run exactly."""
    check_exportable(model.config)
    gguf = require_gguf()
    if not isinstance(tokenizer, ByteBPETokenizer):
        _book_vocabulary(tokenizer, gguf)


def save_gguf(model: GPT, tokenizer, path: str, name: str = "mygpt") -> GGUFExport:
    """Write ``model`` and ``tokenizer`` as a new GGUF file at ``path``, the guarded way
    (``files.outputs.write_output``: locked, atomic, replacing only a GGUF file mygpt wrote)."""
    gguf = require_gguf()
    check_exportable(model.config)
    config = model.config
    notes = []
    if config.gelu == "erf":
        notes.append("GELU: llama.cpp's GPT-2 computes the tanh approximation, within 4.8e-4 of this model's "
                     "erf GELU")
    if not config.attn_bias:
        notes.append("attention biases: written as zeros (llama.cpp's GPT-2 needs them; the function is the same)")
    model, eos = with_end_of_text(model, tokenizer)
    vocabulary = gguf_vocabulary(tokenizer, model.vocab_size, eos, gguf)
    tensors = gguf_tensors(model)

    def write(tmp: str) -> None:
        writer = gguf.GGUFWriter(tmp, ARCHITECTURE)
        writer.add_name(name)
        writer.add_context_length(config.max_seq_len)
        writer.add_embedding_length(config.embed_dim)
        writer.add_feed_forward_length(4 * config.embed_dim)
        writer.add_block_count(config.num_layers)
        writer.add_head_count(config.num_heads)
        writer.add_layer_norm_eps(_LAYER_NORM_EPS)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(vocabulary.pre)
        writer.add_token_list(vocabulary.tokens)
        writer.add_token_types([int(t) for t in vocabulary.types])
        writer.add_token_merges(vocabulary.merges)
        for add in (writer.add_bos_token_id, writer.add_eos_token_id, writer.add_pad_token_id):
            add(eos.id)
        writer.add_add_bos_token(False)
        writer.add_add_eos_token(False)
        writer.add_string(_KIND_FIELD, tokenizer_state(tokenizer)[0])
        for tensor_name, array in tensors.items():
            writer.add_tensor(tensor_name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    def write_into(f) -> None:  # gguf writes to a path: build the file beside it, then stream it in
        with tempfile.TemporaryDirectory(prefix=".mygpt-gguf-", dir=os.path.dirname(os.path.abspath(path))) as tmp:
            built = os.path.join(tmp, "model.gguf")
            write(built)
            with open(built, "rb") as source:
                shutil.copyfileobj(source, f, 1 << 20)

    check_new_file(path, None, "model.gguf")
    write_output(path, GGUF_FILE, write_into)
    return GGUFExport(eos, vocabulary.pre, tuple(notes))
