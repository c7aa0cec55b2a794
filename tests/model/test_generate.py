"""Sampling (Ch.15): temperature, top-k, the context crop, one multinomial draw per step; and what mygpt
adds: greedy decoding, top-p, stop ids, the streaming loop, text streaming with stop strings, checks."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from mygpt import GPT, generate, set_seed
from mygpt.generate import TextStream, sample_next, stream


def _model(max_seq_len: int = 8) -> GPT:
    set_seed(0)
    return GPT(11, 16, 2, 1, max_seq_len=max_seq_len)


def test_shape_prompt_first_and_eval_mode():
    model = _model().train()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    out = generate(model, prompt, 5, top_k=3)
    assert out.shape == (2, 8) and torch.equal(out[:, :3], prompt)
    assert not model.training


def test_each_step_draws_once_so_shorter_runs_are_prefixes():
    model = _model()
    runs = []
    for n in (4, 12):
        set_seed(3)
        runs.append(generate(model, torch.tensor([[1]]), n, temperature=0.9, top_k=5))
    assert torch.equal(runs[1][:, :5], runs[0])


def test_top_1_is_greedy_and_still_consumes_random_numbers():
    model = _model().eval()
    ids = torch.tensor([[1, 2]])
    set_seed(0)
    out = generate(model, ids, 1, top_k=1)
    assert out[0, -1] == model(ids)[0][0, -1].argmax()
    set_seed(0)
    generate(model, ids, 1, top_k=1)
    after_one = torch.rand(1)
    set_seed(0)
    assert not torch.equal(torch.rand(1), after_one)


def test_context_is_cropped_to_the_window():
    model = _model(max_seq_len=4)
    out = generate(model, torch.tensor([[1, 2, 3, 4, 5, 6]]), 3, top_k=2)
    assert out.shape == (1, 9)


def test_top_k_larger_than_the_vocabulary_is_clamped():
    out = generate(_model(), torch.tensor([[1]]), 3, top_k=1000)
    assert out.shape == (1, 4)


def _argmax_loop(model: GPT, ids: torch.Tensor, n: int) -> torch.Tensor:
    """Greedy decoding written out: the argmax of the last logits of the cropped context, n times."""
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(ids[:, -model.max_seq_len:])
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids


@pytest.mark.parametrize("use_cache", [False, True])
def test_temperature_0_is_the_argmax_and_draws_no_random_numbers(use_cache):
    model = _model(max_seq_len=6).eval()
    prompt = torch.tensor([[1, 2, 3], [7, 7, 0]])
    set_seed(0)
    state = torch.get_rng_state()
    out = generate(model, prompt, 10, temperature=0, top_k=3, use_cache=use_cache, top_p=0.5)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(out, _argmax_loop(model, prompt, 10))


def _random_logits(seed: int, batch: int = 4, vocab: int = 50) -> torch.Tensor:
    return torch.randn(batch, vocab, generator=torch.Generator().manual_seed(seed)) * 3


@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("seed", range(5))
def test_top_p_keeps_the_smallest_most_likely_set_holding_p(top_p, seed):
    logits = _random_logits(seed)
    full = F.softmax(logits, dim=-1)
    _, probs = sample_next(logits.clone(), top_p=top_p)
    for row in range(logits.shape[0]):
        kept = probs[row] > 0
        mass = full[row][kept].sum()
        assert mass >= top_p - 1e-6
        assert mass - full[row][kept].min() < top_p + 1e-6  # minimal: without its least likely, below p
        assert full[row][kept].min() >= torch.cat([full[row][~kept], torch.zeros(1)]).max()  # the most likely ones
        assert torch.allclose(probs[row][kept], full[row][kept] / mass)  # renormalised, order kept


def test_top_p_comes_after_top_k_and_temperature():
    logits = _random_logits(7)
    _, probs = sample_next(logits.clone(), temperature=0.5, top_k=5, top_p=0.8)
    _, top_k_only = sample_next(logits.clone(), temperature=0.5, top_k=5)
    kept = probs > 0
    assert (kept <= (top_k_only > 0)).all()
    for row in range(logits.shape[0]):
        assert top_k_only[row][kept[row]].sum() >= 0.8 - 1e-6


def test_top_p_1_changes_nothing_and_sample_next_leaves_the_logits_alone():
    model = _model()
    runs = []
    for top_p in (None, 1.0):
        set_seed(5)
        runs.append(generate(model, torch.tensor([[1, 2]]), 12, temperature=0.7, top_k=6, top_p=top_p))
    assert torch.equal(runs[0], runs[1])
    logits = _random_logits(1)
    before = logits.clone()
    sample_next(logits, temperature=0.5, top_k=3, top_p=0.5)
    assert torch.equal(logits, before)


def test_stop_ids_end_each_row_and_pad_it_with_its_stop_id():
    model = _model()
    prompt = torch.tensor([[1], [2], [3]])
    set_seed(11)
    free = generate(model, prompt, 40, temperature=2.0)
    stop = int(free[0, 5])
    set_seed(11)
    out = generate(model, prompt, 40, temperature=2.0, stop_ids=[stop])
    ends = []
    for row in range(3):
        new = free[row, 1:].tolist()
        end = new.index(stop) + 1 if stop in new else len(new)
        ends.append(end)
        assert out[row, 1:end + 1].tolist() == new[:end]  # the same draws as without stop ids
        assert (out[row, end + 1:] == stop).all()
    assert out.shape[1] == 1 + max(ends)


def test_stream_yields_the_steps_that_generate_collects_and_runs_past_any_length():
    model = _model(max_seq_len=4)
    prompt = torch.tensor([[3, 1, 4]])
    set_seed(2)
    steps = list(stream(model, prompt, 9, top_k=4))
    assert len(steps) == 9 and all(s.ids.shape == (1, 1) and s.probs.shape == (1, 11) for s in steps)
    assert all(torch.allclose(s.probs.sum(-1), torch.ones(1)) for s in steps)
    set_seed(2)
    assert torch.equal(torch.cat([prompt, *(s.ids for s in steps)], 1), generate(model, prompt, 9, top_k=4))
    set_seed(2)
    expected = generate(model, prompt, 9, top_k=4)[:, 3:]
    set_seed(2)
    endless = stream(model, prompt, 10**12, top_k=4)  # lazy, constant memory: take what you need
    assert torch.equal(torch.cat([s.ids for s in itertools.islice(endless, 9)], 1), expected)


@pytest.mark.parametrize("fast", [False, True], ids=["exact", "fast"])
def test_greedy_and_top_p_give_the_same_tokens_with_and_without_the_cache(fast):
    set_seed(0)
    model = GPT(65, 32, 4, 2, max_seq_len=16, position_type="rope", num_kv_heads=2).set_fast(fast)
    prompt = torch.randint(0, 65, (2, 5), generator=torch.Generator().manual_seed(0))
    for kwargs in ({"temperature": 0}, {"temperature": 0.9, "top_k": 20, "top_p": 0.8}):
        runs = []
        for use_cache in (False, True):
            set_seed(3)
            runs.append(generate(model, prompt, 30, use_cache=use_cache, **kwargs))  # past the 16-token window
        assert torch.equal(runs[0], runs[1]), kwargs


@pytest.mark.parametrize("kwargs, fragment", [
    ({"temperature": -1.0}, "temperature must be 0 (greedy"),
    ({"temperature": float("nan")}, "temperature"),
    ({"top_k": 0}, "top_k must be at least 1"),
    ({"top_k": -3}, "top_k"),
    ({"top_p": 0.0}, "top_p must be in (0, 1]"),
    ({"top_p": 1.5}, "top_p"),
    ({"max_new_tokens": -1}, "max_new_tokens must be a whole number, 0 or more"),
    ({"prompt_ids": torch.zeros(1, 0, dtype=torch.long)}, "prompt_ids is empty"),
    ({"prompt_ids": torch.tensor([1, 2])}, "ids.unsqueeze(0)"),
    ({"prompt_ids": torch.tensor([[1.0, 2.0]])}, "ids.long()"),
    ({"prompt_ids": torch.tensor([[1, 11]])}, "prompt_ids must be token ids in [0, 11)"),
    ({"prompt_ids": torch.tensor([[-1, 2]])}, "(got values from -1 to 2)"),
    ({"stop_ids": [3, 99]}, "stop_ids must be token ids in [0, 11)"),
])
def test_misuse_is_a_value_error_naming_the_argument(kwargs, fragment):
    arguments = {"model": _model(), "prompt_ids": torch.tensor([[1, 2]]), "max_new_tokens": 3, **kwargs}
    for function in (generate, stream):  # stream checks when called, before the first step
        with pytest.raises(ValueError) as error:
            function(**arguments)
        assert fragment in str(error.value)


def _pieces(decode, ids, stop=()) -> tuple[str, TextStream]:
    text = TextStream(decode, stop)
    pieces = []
    for i in ids:
        pieces.append(text.push(i))
        if text.stopped:
            break
    return "".join(pieces) + text.finish(), text


def test_text_stream_pieces_join_to_the_whole_decode():
    vocab = ["a", "b", "ab", "\n", " the"]
    decode = lambda ids: "".join(vocab[i] for i in ids)  # BPE-style: each id a whole string
    ids = [0, 1, 2, 4, 3, 0, 4, 4]
    assert _pieces(decode, ids)[0] == decode(ids)


def test_text_stream_holds_a_character_cut_in_the_middle_until_it_is_complete():
    data = "é€ a".encode()
    decode = lambda ids: bytes(data[i] for i in ids).decode("utf-8", errors="replace")
    text = TextStream(decode)
    pieces = [text.push(i) for i in range(len(data))]
    assert pieces == ["", "é", "", "", "€", " ", "a"]
    assert "".join(pieces) + text.finish() == "é€ a"


@pytest.mark.parametrize("stop, expected", [
    (["the"], "ab a "),  # across tokens, not printed
    (["xyz", "b a"], "a"),  # the first to appear wins
    (["a tx", "zzz"], "ab a the b"),  # a stop's beginning held back, then released
    (["th", "ab"], ""),
])
def test_text_stream_cuts_before_the_first_stop_string(stop, expected):
    vocab = ["a", "b", " ", "t", "he"]
    decode = lambda ids: "".join(vocab[i] for i in ids)
    text, stream_state = _pieces(decode, [0, 1, 2, 0, 2, 3, 4, 2, 1], stop)
    assert text == expected
    assert stream_state.stopped == (expected != "ab a the b")


def test_text_stream_refuses_an_empty_stop_string():
    with pytest.raises(ValueError, match="stop strings must not be empty"):
        TextStream(str, ["\n", ""])
