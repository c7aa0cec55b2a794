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

import torch

from ..config import GPTConfig
from ..errors import InteropError, require
from ..model import GPT
from ..tokenizer import (
    _WORD_RE,
    END_OF_TEXT,
    BPETokenizer,
    ByteBPETokenizer,
    CharTokenizer,
    require_tokenizers,
)

# Hugging Face activation names and the GELU each one computes.
_GELU_OF = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh", "gelu": "erf"}
_ACTIVATION_OF = {"tanh": "gelu_new", "erf": "gelu"}
_LAYER_NORM_EPS = 1e-5


def config_from_hf(hf: dict) -> GPTConfig:
    """The mygpt config of a GPT-2 ``config.json``; settings mygpt cannot compute are refused."""
    require(hf.get("model_type", "gpt2") == "gpt2",
            f"config.json describes a {hf.get('model_type')!r} model; only GPT-2 ('gpt2') can be imported",
            InteropError)
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
    return GPTConfig(vocab_size=hf["vocab_size"], embed_dim=C, num_heads=hf["n_head"], num_layers=hf["n_layer"],
                     max_seq_len=hf["n_positions"], attn_bias=True, gelu=_GELU_OF[activation],
                     store_masks=False)


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


def state_dict_from_hf(hf_state: dict, config: GPTConfig) -> dict[str, torch.Tensor]:
    """mygpt's ``state_dict`` from GPT-2's (``transformer.`` prefix optional, ``Conv1D`` layout, fused QKV)."""
    hf = {key.removeprefix("transformer."): value.float() for key, value in hf_state.items()}
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


def _read_weights(directory: str) -> dict[str, torch.Tensor]:
    safetensors_path = os.path.join(directory, "model.safetensors")
    if os.path.exists(safetensors_path):
        from safetensors.torch import load_file
        return load_file(safetensors_path)
    bin_path = os.path.join(directory, "pytorch_model.bin")
    require(os.path.exists(bin_path), f"{directory} has no model.safetensors or pytorch_model.bin; save a "
                                      "model there with GPT2LMHeadModel.save_pretrained", InteropError)
    return torch.load(bin_path, map_location="cpu", weights_only=True)


def load_hf_tokenizer(directory: str) -> ByteBPETokenizer:
    """The tokenizer of a Hugging Face directory: ``tokenizer.json``, else ``vocab.json`` + ``merges.txt``."""
    path = os.path.join(directory, "tokenizer.json")
    if os.path.exists(path):
        return ByteBPETokenizer.load(path)
    vocab, merges = os.path.join(directory, "vocab.json"), os.path.join(directory, "merges.txt")
    require(os.path.exists(vocab) and os.path.exists(merges),
            f"{directory} has no tokenizer.json and no vocab.json + merges.txt; save the tokenizer there "
            "with its save_pretrained", InteropError)
    return ByteBPETokenizer.from_files(vocab, merges)


def load_hf(directory: str) -> tuple[GPT, ByteBPETokenizer]:
    """The mygpt model (CPU, float32, eval mode) and tokenizer of a local GPT-2 directory."""
    require(os.path.isdir(directory), f"{directory} is not a directory; pass the folder holding config.json",
            InteropError)
    config_path = os.path.join(directory, "config.json")
    require(os.path.exists(config_path), f"{directory} has no config.json; it is not a Hugging Face model "
                                         "directory", InteropError)
    with open(config_path, encoding="utf-8") as f:
        config = config_from_hf(json.load(f))
    tokenizer = load_hf_tokenizer(directory)
    require(tokenizer.vocab_size <= config.vocab_size,
            f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {config.vocab_size}", InteropError)
    model = GPT.from_config(config)
    try:
        model.load_state_dict(state_dict_from_hf(_read_weights(directory), config))
    except (KeyError, RuntimeError) as err:
        raise InteropError(f"the weights in {directory} do not match its config.json ({err!s:.120})") from err
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


def save_hf(model: GPT, tokenizer: CharTokenizer | BPETokenizer | ByteBPETokenizer, directory: str) -> None:
    """Write ``config.json``, ``model.safetensors`` and the tokenizer files into ``directory`` (created)."""
    from safetensors.torch import save_file

    eos_id = tokenizer.tokenizer.token_to_id(END_OF_TEXT) if isinstance(tokenizer, ByteBPETokenizer) else None
    config = config_to_hf(model.config, eos_id)
    weights = state_dict_to_hf(model)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    save_file(weights, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    save_hf_tokenizer(tokenizer, directory, model.max_seq_len)
