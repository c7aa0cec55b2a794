"""Sampling (Ch.15): temperature, top-k, the context crop, one multinomial draw per step."""

import torch

from mygpt import GPT, generate, set_seed


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
