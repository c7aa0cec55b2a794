"""The JSON API of ``mygpt serve`` through Starlette's test client: models, pieces, streamed tokens, attention."""

import json

import pytest
import torch
from support.serve import read_events

from mygpt import load_checkpoint
from mygpt.analysis.attention_weights import attention_weights
from mygpt.analysis.model_card import model_card
from mygpt.checkpoint import read_checkpoint
from mygpt.cli import main

pytest.importorskip("starlette", reason="mygpt[serve] is not installed")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx")
from starlette.testclient import TestClient

from mygpt.serve.app import create_app
from mygpt.serve.models import Limits, load_models


@pytest.fixture(scope="module")
def client(checkpoints):
    paths = [str(checkpoints / "char.ckpt"), str(checkpoints / "bpe.ckpt")]
    with TestClient(create_app(load_models(paths, torch.device("cpu")))) as test_client:
        yield test_client


def _generate(client, **body) -> list[tuple[str, dict]]:
    with client.stream("POST", "/api/generate", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return read_events(response.iter_lines())


def test_models_are_listed_with_their_cards(client, checkpoints):
    data = client.get("/api/models").json()
    assert [m["name"] for m in data["models"]] == ["char", "bpe"]
    assert data["limits"] == {"max_prompt_chars": 4000, "max_new_tokens": 1000, "max_concurrent": 32}
    path = str(checkpoints / "char.ckpt")
    ckpt = read_checkpoint(path)
    model, tokenizer = load_checkpoint(path)
    card = client.get("/api/models/char").json()
    assert card == {"name": "char", **json.loads(json.dumps(model_card(ckpt, model, tokenizer, path))),
                    "path": "fast (KV cache)"}
    assert card["training"]["step"] == 12 and card["tokenizer"]["kind"] == "char"
    missing = client.get("/api/models/nope")
    assert missing.status_code == 404 and "no model named 'nope'" in missing.json()["error"]


def test_tokenize_shows_the_pieces_of_each_tokenizer(client, checkpoints):
    text = "To be, or not to be"
    for name in ("char", "bpe"):
        data = client.post("/api/tokenize", json={"model": name, "text": text}).json()
        _, tokenizer = load_checkpoint(str(checkpoints / f"{name}.ckpt"))
        assert [t["id"] for t in data["tokens"]] == tokenizer.encode(text).tolist()
        assert "".join(t["piece"] for t in data["tokens"]) == text
        assert data["count"] == len(data["tokens"])
    assert data["count"] < len(text) and any(len(t["piece"]) > 1 for t in data["tokens"])  # BPE merges


@pytest.mark.parametrize("body, status, words", [
    ({"text": "To be?"}, 400, "does not know: '?'"),
    ({"text": ""}, 400, "empty"),
    ({"text": "T" * 4001}, 400, "at most 4,000"),
    ({"text": 5}, 400, "text must be a string"),
    ({"txt": "To"}, 400, "unknown field(s) txt"),
    ({"model": "nope", "text": "To"}, 404, "no model named"),
    ({}, 400, "text is required"),
])
def test_bad_requests_get_one_json_error(client, body, status, words):
    response = client.post("/api/tokenize", json=body)
    assert response.status_code == status and words in response.json()["error"], response.json()


def test_bodies_that_are_not_json_objects_or_too_large_are_refused(client):
    assert "not JSON" in client.post("/api/tokenize", content=b"{oops").json()["error"]
    assert "JSON object" in client.post("/api/tokenize", json=[1, 2]).json()["error"]
    response = client.post("/api/tokenize", content=b"x" * (Limits().max_body_bytes + 1))
    assert response.status_code == 413 and "larger than" in response.json()["error"]
    assert client.get("/api/tokenize").status_code == 405


def test_generate_streams_tokens_with_probabilities_and_alternatives(client):
    events = _generate(client, prompt="To be", max_new_tokens=12, seed=3, top_k=5, temperature=0.8)
    names = [name for name, _ in events]
    assert names == ["start"] + ["token"] * 12 + ["done"]
    start, done = events[0][1], events[-1][1]
    assert [p["piece"] for p in start["prompt"]] == list("To be") and start["window"] == 16
    assert done == {"steps": 12, "reason": "length"}
    for _, token in events[1:-1]:
        assert 0 < token["p"] <= 1 and 0 < token["model_p"] <= 1
        assert len(token["top"]) == 5 and token["text"] == token["token"]
        assert sum(alt["p"] for alt in token["top"]) <= 1 + 1e-6
        assert sum(alt["model_p"] for alt in token["top"]) <= 1 + 1e-6
        assert [a["model_p"] for a in token["top"]] == sorted((a["model_p"] for a in token["top"]), reverse=True)
    greedy = _generate(client, prompt="To be", max_new_tokens=5, greedy=True, seed=9)
    assert all(t["p"] == 1.0 and t["id"] == t["top"][0]["id"] for _, t in greedy[1:-1])


def _cli_probs(checkpoint: str, capsys, *flags: str) -> list[dict]:
    main(["generate", "--checkpoint", checkpoint, "--prompt", "To be", "--max-new-tokens", "15",
          "--seed", "11", "--temperature", "0.9", "--top-k", "6", "--top-p", "0.95", "--device", "cpu",
          "--show-probs", "json", *flags])
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


@pytest.mark.parametrize("fast", [True, False])
def test_streamed_probabilities_are_those_of_mygpt_generate_for_the_same_seed(checkpoints, capsys, fast):
    """The fast server (KV cache) matches `generate --fast`, the exact one `generate`: same tokens, same numbers."""
    path = str(checkpoints / "bpe.ckpt")
    with TestClient(create_app(load_models([path], torch.device("cpu"), fast=fast))) as exact_client:
        events = _generate(exact_client, prompt="To be", max_new_tokens=15, seed=11, temperature=0.9, top_k=6,
                           top_p=0.95)
    expected = _cli_probs(path, capsys, *(["--fast"] if fast else []))
    got = [token for name, token in events if name == "token"]
    assert len(got) == len(expected) == 15
    for mine, theirs in zip(got, expected):
        assert {k: mine[k] for k in ("id", "token", "p", "model_p", "top")} == \
               {k: theirs[k] for k in ("id", "token", "p", "model_p", "top")}


def test_the_fast_server_computes_the_exact_function_of_the_trained_weights(client, checkpoints, capsys):
    """After training, the fast path's probabilities are the exact path's, to float rounding."""
    events = _generate(client, model="bpe", prompt="To be", max_new_tokens=15, seed=11, temperature=0.9,
                       top_k=6, top_p=0.95)
    expected = _cli_probs(str(checkpoints / "bpe.ckpt"), capsys)
    for (_, mine), theirs in zip(events[1:-1], expected):
        assert mine["id"] == theirs["id"]
        assert mine["model_p"] == pytest.approx(theirs["model_p"], abs=1e-5)
        assert mine["p"] == pytest.approx(theirs["p"], abs=1e-5)


@pytest.mark.parametrize("body, words", [
    ({"prompt": "To", "max_new_tokens": 1001}, "at most 1,000"),
    ({"prompt": "To", "temperature": -1}, "temperature must be 0"),
    ({"prompt": "To", "top_k": 0}, "top_k must be at least 1"),
    ({"prompt": "To", "top_p": 1.5}, "top_p must be in (0, 1]"),
    ({"prompt": "To", "seed": -1}, "seed must be a whole number"),
    ({"prompt": "To", "seed": 2**64}, "seed must be a whole number"),
    ({"prompt": "To", "greedy": 1}, "greedy must be true or false"),
    ({"prompt": "To", "max_new_tokens": True}, "max_new_tokens must be a whole number"),
    ({"prompt": "?"}, "does not know"),
    ({"prompt": ""}, "prompt is empty"),
])
def test_generate_refuses_bad_settings_before_streaming(client, body, words):
    response = client.post("/api/generate", json=body)
    assert response.status_code == 400 and words in response.json()["error"], response.json()


def test_attention_rows_sum_to_one_and_are_the_models_own(client, checkpoints):
    model, tokenizer = load_checkpoint(str(checkpoints / "char.ckpt"))
    text = "To be, or not"
    data = client.post("/api/attention", json={"text": text}).json()
    ids = tokenizer.encode(text)
    expected = attention_weights(model, ids)
    assert data["offset"] == 0 and data["ids"] == ids.tolist() and data["pieces"] == list(text)
    assert (data["num_layers"], data["num_heads"]) == (2, 2) and sorted(data["layers"]) == ["0", "1"]
    for layer, weights in data["layers"].items():
        got = torch.tensor(weights)
        assert got.shape == (2, len(text), len(text))
        assert torch.allclose(got.sum(-1), torch.ones(2, len(text)), atol=1e-5)
        assert torch.equal(got.triu(1), torch.zeros_like(got))  # nothing attends to the future
        assert torch.allclose(got, expected[int(layer)], atol=1e-6)


def test_attention_of_ids_longer_than_the_window_shows_the_last_window(client, checkpoints):
    model, tokenizer = load_checkpoint(str(checkpoints / "char.ckpt"))
    ids = tokenizer.encode("To be, or not to be, that is").tolist()
    data = client.post("/api/attention", json={"ids": ids, "layer": -1}).json()
    assert data["offset"] == len(ids) - 16 and data["ids"] == ids[-16:] and list(data["layers"]) == ["1"]
    expected = attention_weights(model, torch.tensor(ids[-16:]))[1]
    assert torch.allclose(torch.tensor(data["layers"]["1"]), expected, atol=1e-6)
    for body, words in (({"ids": ids, "layer": 2}, "layer must be from 0 to 1"), ({"ids": [99]}, "ids must be"),
                        ({"ids": ids, "text": "To"}, "either text or ids"), ({"ids": [1.5]}, "ids must be")):
        response = client.post("/api/attention", json=body)
        assert response.status_code == 400 and words in response.json()["error"]


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "<title>mygpt playground</title>" in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert "http" not in page.text.replace("http-equiv", "")  # nothing loaded from elsewhere (works offline)
