"""GPT-2 in the Hugging Face format, both ways: a local ``GPT2LMHeadModel`` directory to a mygpt model
and tokenizer, and back.

mygpt's GPT is GPT-2's architecture once its GPT-2 options are on (``attn_bias``, ``gelu="tanh"``):
the same pre-norm blocks, LayerNorm eps 1e-5, learned positions, tied head and 1/sqrt(d) scale. What
differs is the layout: Hugging Face's ``Conv1D`` stores ``(in, out)`` weights (the transpose of
``nn.Linear``) and fuses Q, K and V into one ``c_attn``. Models with RMSNorm, RoPE or grouped-query
attention have no GPT-2 form and are refused.

Reading and writing needs the ``hf`` extra (``safetensors``, ``tokenizers``); ``transformers`` is not
needed. Nothing is downloaded: the user points at files they have.
"""

import json
import os
import re

import torch

from ..config import GPTConfig
from ..errors import ConfigError, InteropError, require
from ..files.outputs import OutputKind, write_directory
from ..model import GPT
from ..tokenizer import (
    _WORD_RE,
    END_OF_TEXT,
    BPETokenizer,
    ByteBPETokenizer,
    Tokenizer,
    require_tokenizers,
    tokenizer_from_state,
)

# Hugging Face activation names and the GELU each one computes.
_GELU_OF = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh", "gelu": "erf"}
_ACTIVATION_OF = {"tanh": "gelu_new", "erf": "gelu"}
_LAYER_NORM_EPS = 1e-5


_SHAPE_KEYS = ("vocab_size", "n_positions", "n_embd", "n_head", "n_layer")


def config_from_hf(hf: dict) -> GPTConfig:
    """The mygpt config of a GPT-2 ``config.json``; settings mygpt cannot compute are refused.

    Every shape setting must be there as a whole number; other keys Hugging Face writes are allowed.
    """
    require(isinstance(hf, dict), "config.json is not a JSON object", InteropError)
    for key in _SHAPE_KEYS:
        value = hf.get(key)
        require(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                f"config.json needs {key} as a whole number, 1 or more (got {value!r})", InteropError)
    require(hf.get("model_type", "gpt2") == "gpt2",
            f"config.json describes a {hf.get('model_type')!r} model; only GPT-2 ('gpt2') can be imported", InteropError)
    activation = hf.get("activation_function", "gelu_new")
    require(activation in _GELU_OF, f"activation_function {activation!r} is not supported "
                                    f"(mygpt has {', '.join(sorted(_GELU_OF))})", InteropError)
    C = hf["n_embd"]
    checks = {
        "layer_norm_epsilon": (hf.get("layer_norm_epsilon", _LAYER_NORM_EPS) == _LAYER_NORM_EPS, "1e-5"),
        "n_inner": (hf.get("n_inner") in (None, 4 * C), f"null or 4 * n_embd = {4 * C}"),
        "scale_attn_weights": (hf.get("scale_attn_weights", True) is True, "true"),
        "scale_attn_by_inverse_layer_idx": (not hf.get("scale_attn_by_inverse_layer_idx", False), "false"),
        "tie_word_embeddings": (hf.get("tie_word_embeddings", True) is True, "true"),
    }
    for name, (ok, needed) in checks.items():
        require(ok, f"config.json has {name} = {hf.get(name)!r}; mygpt's GPT-2 needs {needed}", InteropError)
    try:
        return GPTConfig(vocab_size=hf["vocab_size"], embed_dim=C, num_heads=hf["n_head"],
                         num_layers=hf["n_layer"], max_seq_len=hf["n_positions"], attn_bias=True,
                         gelu=_GELU_OF[activation], store_masks=False)
    except ConfigError as err:
        described = err.worded(lambda field: _HF_NAME.get(field, field))
        raise InteropError(f"config.json describes no possible model: {described}") from err


# mygpt's config fields by the name config.json gives them, for messages.
_HF_NAME = {"vocab_size": "vocab_size", "embed_dim": "n_embd", "num_heads": "n_head", "num_layers": "n_layer",
            "max_seq_len": "n_positions"}


def config_to_hf(config: GPTConfig, eos_id: int | None = None) -> dict:
    """The ``config.json`` of a ``GPT2LMHeadModel`` computing the same function as a mygpt model."""
    check_exportable(config)
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": config.vocab_size,
        "n_positions": config.max_seq_len, "n_embd": config.embed_dim, "n_layer": config.num_layers,
        "n_head": config.num_heads, "n_inner": None, "activation_function": _ACTIVATION_OF[config.gelu],
        "layer_norm_epsilon": _LAYER_NORM_EPS, "resid_pdrop": config.dropout, "embd_pdrop": config.dropout,
        "attn_pdrop": config.dropout, "initializer_range": 0.02, "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True, "bos_token_id": eos_id, "eos_token_id": eos_id, "dtype": "float32",
    }


def check_exportable(config: GPTConfig) -> None:
    """Refuse, in one line saying why, a model that GPT-2 cannot represent."""
    require(config.norm_type == "layer", lambda n: f"GPT-2 has LayerNorm only; this model uses RMSNorm "
                                                   f"({n('norm_type')} rms), so it cannot be exported",
            InteropError)
    require(config.position_type == "learned", lambda n: f"GPT-2 has learned positions only; this model uses "
                                                         f"RoPE ({n('position_type')} rope), so it cannot be "
                                                         "exported", InteropError)
    require(config.num_kv_heads == config.num_heads,
            f"GPT-2 has one K/V head per query head; this model shares {config.num_kv_heads} K/V heads "
            f"among {config.num_heads} (grouped-query attention), so it cannot be exported", InteropError)


def _layer_keys(i: int) -> dict[str, str]:
    """mygpt's names of layer ``i``'s LayerNorm tensors -> GPT-2's."""
    return {f"blocks.{i}.{ours}.{p}": f"h.{i}.{theirs}.{p}"
            for ours, theirs in (("ln1", "ln_1"), ("ln2", "ln_2")) for p in ("weight", "bias")}


def hf_shapes(config: GPTConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of GPT-2's ``state_dict`` (without ``transformer.``) and its shape, for ``config``."""
    V, P, C = config.vocab_size, config.max_seq_len, config.embed_dim
    shapes = {"wte.weight": (V, C), "wpe.weight": (P, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
    for i in range(config.num_layers):
        h = f"h.{i}."
        shapes.update({h + "ln_1.weight": (C,), h + "ln_1.bias": (C,), h + "ln_2.weight": (C,),
                       h + "ln_2.bias": (C,), h + "attn.c_attn.weight": (C, 3 * C), h + "attn.c_attn.bias": (3 * C,),
                       h + "attn.c_proj.weight": (C, C), h + "attn.c_proj.bias": (C,),
                       h + "mlp.c_fc.weight": (C, 4 * C), h + "mlp.c_fc.bias": (4 * C,),
                       h + "mlp.c_proj.weight": (4 * C, C), h + "mlp.c_proj.bias": (C,)})
    return shapes


# Buffers older ``transformers`` saved with the weights (the causal mask); they hold no weights.
_IGNORED = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")


def check_hf_state(hf_state, config: GPTConfig, source: str = "the weights") -> None:
    """Refuse weights that do not match ``config`` exactly: missing, unknown (extra layers, say) or
    mis-shaped tensors, non-tensors and non-finite values, each named (nothing is dropped silently)."""
    require(isinstance(hf_state, dict), f"{source} is not a mapping of tensor names to tensors", InteropError)
    expected = hf_shapes(config)
    names = {}
    for key, value in hf_state.items():
        name = key.removeprefix("transformer.") if isinstance(key, str) else key
        if isinstance(name, str) and _IGNORED.fullmatch(name):
            continue
        require(isinstance(value, torch.Tensor) and value.is_floating_point(),
                f"{source}: {key} is not a floating-point tensor", InteropError)
        names[name] = value
    if "lm_head.weight" in names:
        expected["lm_head.weight"] = expected["wte.weight"]
    unknown = [str(name) for name in names if name not in expected]
    require(not unknown, f"{source} holds tensors its config.json does not describe ({', '.join(unknown[:3])}"
                         f"{', ...' if len(unknown) > 3 else ''}); config.json must give every layer and size", InteropError)
    missing = [name for name in expected if name not in names]
    require(not missing, f"{source} lacks {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}, "
                         "which its config.json calls for", InteropError)
    for name, shape in expected.items():
        got = tuple(names[name].shape)
        require(got == shape, f"{source}: {name} has shape {list(got)} but config.json calls for {list(shape)}", InteropError)
        require(bool(torch.isfinite(names[name]).all()), f"{source}: {name} holds NaN or infinite values", InteropError)


def state_dict_from_hf(hf_state: dict, config: GPTConfig) -> dict[str, torch.Tensor]:
    """mygpt's ``state_dict`` from GPT-2's (``transformer.`` prefix optional, ``Conv1D`` layout, fused QKV).

    The tensors are checked first (``check_hf_state``): nothing the config does not describe is dropped.
    """
    check_hf_state(hf_state, config)
    hf = {key.removeprefix("transformer."): value.float() for key, value in hf_state.items()
          if not _IGNORED.fullmatch(key.removeprefix("transformer."))}
    lm_head = hf.pop("lm_head.weight", None)
    require(lm_head is None or torch.equal(lm_head, hf["wte.weight"]),
            "lm_head.weight differs from wte.weight; mygpt's head is tied to the token embedding", InteropError)
    C = config.embed_dim
    state = {"token_embedding.embedding.weight": hf["wte.weight"], "position_embedding.weight": hf["wpe.weight"]}
    for i in range(config.num_layers):
        state.update({ours: hf[theirs] for ours, theirs in _layer_keys(i).items()})
        prefix, h = f"blocks.{i}.", f"h.{i}."
        for part, weight, bias in zip("QKV", hf[h + "attn.c_attn.weight"].split(C, dim=1),
                                      hf[h + "attn.c_attn.bias"].split(C)):
            state[f"{prefix}mha.W_{part}.weight"], state[f"{prefix}mha.W_{part}.bias"] = weight.t(), bias
        for ours, theirs in (("mha.W_O", "attn.c_proj"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
            state[f"{prefix}{ours}.weight"] = hf[f"{h}{theirs}.weight"].t()
            state[f"{prefix}{ours}.bias"] = hf[f"{h}{theirs}.bias"]
    state["ln_f.weight"], state["ln_f.bias"] = hf["ln_f.weight"], hf["ln_f.bias"]
    return {key: value.contiguous() for key, value in state.items()}


def _bias(state: dict, layer: str) -> torch.Tensor:
    """A linear layer's bias, or zeros where it has none (the book's attention)."""
    return state.get(layer + ".bias", torch.zeros(state[layer + ".weight"].shape[0]))


def state_dict_to_hf(model: GPT) -> dict[str, torch.Tensor]:
    """GPT-2's ``state_dict`` (``transformer.`` keys, no tied ``lm_head``) of a mygpt model; zero biases
    where the model has none."""
    check_exportable(model.config)
    ours = {key: value.detach().float().cpu() for key, value in model.state_dict().items()}
    hf = {"wte.weight": ours["token_embedding.embedding.weight"], "wpe.weight": ours["position_embedding.weight"]}
    for i in range(model.num_layers):
        hf.update({theirs: ours[key] for key, theirs in _layer_keys(i).items()})
        prefix, h = f"blocks.{i}.", f"h.{i}."
        hf[h + "attn.c_attn.weight"] = torch.cat([ours[f"{prefix}mha.W_{p}.weight"] for p in "QKV"]).t()
        hf[h + "attn.c_attn.bias"] = torch.cat([_bias(ours, f"{prefix}mha.W_{p}") for p in "QKV"])
        for name, theirs in (("mha.W_O", "attn.c_proj"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
            weight = ours[f"{prefix}{name}.weight"]
            hf[f"{h}{theirs}.weight"], hf[f"{h}{theirs}.bias"] = weight.t(), _bias(ours, prefix + name)
    hf["ln_f.weight"], hf["ln_f.bias"] = ours["ln_f.weight"], ours["ln_f.bias"]
    return {"transformer." + key: value.contiguous() for key, value in hf.items()}


def _read_weights(directory: str) -> tuple[dict, str]:
    """The tensors of ``model.safetensors`` (preferred) or ``pytorch_model.bin``, and that file's path."""
    safetensors_path = os.path.join(directory, "model.safetensors")
    bin_path = os.path.join(directory, "pytorch_model.bin")
    path = safetensors_path if os.path.lexists(safetensors_path) else bin_path
    require(os.path.lexists(path), f"{directory} has no model.safetensors or pytorch_model.bin; save a model "
                                   "there with GPT2LMHeadModel.save_pretrained", InteropError)
    try:
        if path == safetensors_path:
            from safetensors.torch import load_file
            return load_file(path), path
        return torch.load(path, map_location="cpu", weights_only=True), path
    except Exception as err:  # safetensors' and torch's errors for corrupt, truncated or foreign files
        raise InteropError(f"cannot read {path}: corrupt, truncated or not a weights file "
                           f"({_first_line(err)})") from err


def _first_line(err: BaseException) -> str:
    text = (getattr(err, "strerror", None) or str(err) or type(err).__name__).strip()
    return (text.splitlines() or [type(err).__name__])[0][:120]


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as err:  # unreadable, not UTF-8, not JSON
        raise InteropError(f"cannot read {path} ({_first_line(err)}); it must be the JSON file "
                           "save_pretrained writes") from err


def _book_tokenizer(state: dict):
    """The char or book-BPE tokenizer a ``tokenizer.json`` written by ``mygpt export-hf`` describes (a BPE
    model over mygpt's own symbols, no byte-level steps, pieces fused on decoding), else None."""
    model, pre, decoder = state.get("model"), state.get("pre_tokenizer"), state.get("decoder")
    if not (isinstance(model, dict) and model.get("type") == "BPE" and isinstance(decoder, dict)
            and decoder.get("type") == "Fuse" and isinstance(model.get("vocab"), dict)):
        return None
    vocab, merges = model["vocab"], model.get("merges") or []
    merges = [m.split(" ") if isinstance(m, str) else m for m in merges]
    ids = sorted(vocab.values()) if all(isinstance(i, int) for i in vocab.values()) else None
    if not ids:
        return None
    n_chars = ids[-1] + 1 - len(merges)
    by_id = {i: token for token, i in vocab.items()}
    chars = [by_id.get(i) for i in range(n_chars)]
    try:
        tokenizer = tokenizer_from_state("bpe" if merges else "char", {"chars": chars, "merges": merges})
    except (ValueError, TypeError):
        return None
    return tokenizer if tokenizer.stoi == vocab and (pre is None) == (not merges) else None


def load_hf_tokenizer(directory: str) -> Tokenizer:
    """The tokenizer of a Hugging Face directory: ``tokenizer.json``, else ``vocab.json`` + ``merges.txt``.

    A ``tokenizer.json`` that ``mygpt export-hf`` wrote for a char or book-BPE tokenizer comes back as
    that tokenizer (same ids, same refusal of unknown characters); any other is a byte-level BPE.
    """
    path = os.path.join(directory, "tokenizer.json")
    if os.path.lexists(path):
        state = _read_json(path)
        require(isinstance(state, dict), f"{path} is not a tokenizer.json (not a JSON object)", InteropError)
        book = _book_tokenizer(state)
        if book is not None:
            return book
        try:
            return tokenizer_from_state("bytebpe", {"json": json.dumps(state)})
        except (ValueError, TypeError) as err:
            raise InteropError(f"{path}: {err}") from err
    vocab, merges = os.path.join(directory, "vocab.json"), os.path.join(directory, "merges.txt")
    require(os.path.exists(vocab) and os.path.exists(merges),
            f"{directory} has no tokenizer.json and no vocab.json + merges.txt; save the tokenizer there "
            "with its save_pretrained", InteropError)
    try:
        return ByteBPETokenizer.from_files(vocab, merges)
    except Exception as err:  # the tokenizers library raises plain Exceptions for malformed files
        raise InteropError(f"cannot read {vocab} and {merges} as GPT-2's tokenizer files "
                           f"({_first_line(err)})") from err


def load_hf(directory: str) -> tuple[GPT, Tokenizer]:
    """The mygpt model (CPU, float32, eval mode) and tokenizer of a local GPT-2 directory.

    Every file is checked before use, and any problem is an ``InteropError`` naming the file: a
    malformed ``config.json``, unreadable weights, tensors that do not match the config (missing,
    unknown, mis-shaped, not finite) and a tokenizer larger than the model's vocabulary.
    """
    require(os.path.isdir(directory), f"{directory} is not a directory; pass the folder holding config.json", InteropError)
    config_path = os.path.join(directory, "config.json")
    require(os.path.exists(config_path), f"{directory} has no config.json; it is not a Hugging Face model "
                                         "directory", InteropError)
    try:
        config = config_from_hf(_read_json(config_path))
    except InteropError as err:
        text = str(err)
        raise InteropError(config_path + text.removeprefix("config.json") if text.startswith("config.json")
                           else f"{config_path}: {text}") from err
    tokenizer = load_hf_tokenizer(directory)
    require(tokenizer.vocab_size <= config.vocab_size,
            f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {config.vocab_size}", InteropError)
    weights, weights_path = _read_weights(directory)
    try:
        check_hf_state(weights, config, weights_path)
    except InteropError as err:
        raise InteropError(f"{err}".replace("config.json", config_path, 1)) from err
    model = GPT.from_config(config)
    model.load_state_dict(state_dict_from_hf(weights, config))
    return model.eval(), tokenizer


def hf_tokenizer(tokenizer):
    """A ``tokenizers.Tokenizer`` giving the same ids and decoding as a mygpt tokenizer.

    Char: a BPE model without merges. Book BPE: its alphabet and merges, applied within the words of
    its fast encoder (``encode_corpus``), whose lowest-rank-first merging is also Hugging Face's.
    Unknown characters are skipped, as ``encode_corpus`` skips them.
    """
    if isinstance(tokenizer, ByteBPETokenizer):
        return tokenizer.tokenizer
    tk = require_tokenizers()
    merges = tokenizer.merges if isinstance(tokenizer, BPETokenizer) else []
    vocab = tokenizer.stoi  # a string made twice by different merges keeps its later id, as in mygpt
    result = tk.Tokenizer(tk.models.BPE(vocab=dict(vocab), merges=[tuple(m) for m in merges]))
    if isinstance(tokenizer, BPETokenizer):
        result.pre_tokenizer = tk.pre_tokenizers.Split(tk.Regex(_WORD_RE.pattern), behavior="isolated")
    result.decoder = tk.decoders.Fuse()
    return result


def save_hf_tokenizer(tokenizer, directory: str, max_length: int) -> None:
    """``tokenizer.json`` and ``tokenizer_config.json`` (plus GPT-2's ``vocab.json``/``merges.txt`` for
    byte-level BPE) that ``AutoTokenizer.from_pretrained(directory)`` loads."""
    hf_tokenizer(tokenizer).save(os.path.join(directory, "tokenizer.json"))
    settings = {"model_max_length": max_length, "clean_up_tokenization_spaces": False,
                "tokenizer_class": "PreTrainedTokenizerFast"}
    if isinstance(tokenizer, ByteBPETokenizer):
        tokenizer.tokenizer.model.save(directory)
        if tokenizer.tokenizer.token_to_id(END_OF_TEXT) is not None:
            settings.update(bos_token=END_OF_TEXT, eos_token=END_OF_TEXT, unk_token=END_OF_TEXT)
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)


# The files ``save_hf`` writes; a folder already holding any of them is not written into.
EXPORTED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.json",
            "merges.txt")


def _holds_no_model(directory: str) -> bool:
    return not any(os.path.lexists(os.path.join(directory, name)) for name in EXPORTED)


HF_FOLDER = OutputKind("a Hugging Face folder", "Hugging Face folders", _holds_no_model, InteropError,
                       folder=True, refusal="already holds a model (config.json, weights or tokenizer files); "
                                            "choose a new or empty directory")


def save_hf(model: GPT, tokenizer: Tokenizer, directory: str) -> None:
    """Write ``config.json``, ``model.safetensors`` and the tokenizer files into ``directory`` (created).

    The guarded way (``files.outputs.write_directory``): a directory that already holds a model is
    refused, a second export into it while this one runs too, and the files appear only once all of
    them are written.
    """
    from safetensors.torch import save_file

    eos_id = tokenizer.tokenizer.token_to_id(END_OF_TEXT) if isinstance(tokenizer, ByteBPETokenizer) else None
    config = config_to_hf(model.config, eos_id)
    weights = state_dict_to_hf(model)

    def fill(folder: str) -> None:
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        save_file(weights, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        save_hf_tokenizer(tokenizer, folder, model.max_seq_len)

    write_directory(directory, HF_FOLDER, fill)
