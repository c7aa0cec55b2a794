"""The playground's page in a real headless browser (Debian's chromium): stream, hover, heatmap, no errors."""

import time

import pytest
import torch
from support.serve import headless_chromium, running_server

pytest.importorskip("uvicorn", reason="mygpt[serve] is not installed")

from mygpt.serve.app import create_app
from mygpt.serve.models import load_models

PROMPT = "To be, or not"
LENGTH = 150


@pytest.fixture(scope="module")
def page(checkpoints):
    """The page of a server with two checkpoints (char and BPE), open in headless Chromium."""
    models = load_models([str(checkpoints / "char.ckpt"), str(checkpoints / "bpe.ckpt")], torch.device("cpu"))
    with running_server(create_app(models)) as base, headless_chromium() as driver:
        driver.get(base)
        yield driver


def _wait(driver, script: str, timeout: float = 30):
    """Run ``script`` (JavaScript returning a value) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while not (value := driver.execute_script(script)):
        assert time.monotonic() < deadline, f"timed out waiting for: {script}"
        time.sleep(0.01)
    return value


def test_the_page_streams_tokens_shows_alternatives_and_draws_attention(page, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver = page
    _wait(driver, "return document.querySelectorAll('.column').length === 2")
    assert [c.get_attribute("data-model") for c in driver.find_elements(By.CSS_SELECTOR, ".column")] == \
        ["char", "bpe"]
    driver.find_element(By.ID, "prompt").send_keys(PROMPT)
    # The tokenizer's split: one piece per character for char, fewer, merged pieces for BPE.
    counts = _wait(driver, "const c = [...document.querySelectorAll('.column .count')].map(n => n.textContent);"
                           "return c.every(n => n !== '0') && c")
    assert int(counts[0]) == len(PROMPT) > int(counts[1])
    driver.execute_script(f"const l = document.getElementById('length'); l.value = {LENGTH};"
                          "l.dispatchEvent(new Event('input'));")
    driver.find_element(By.ID, "generate").click()

    seen = set()  # how many tokens the first column showed, each time we looked: they arrive one by one
    deadline = time.monotonic() + 60
    while (n := len(driver.find_elements(By.CSS_SELECTOR, "[data-model=char] .token.generated"))) < LENGTH:
        seen.add(n)
        assert time.monotonic() < deadline, f"only {n} tokens after 60 s"
    assert any(0 < n < LENGTH for n in seen), seen
    _wait(driver, "return document.getElementById('status').textContent === 'done'")
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-model=bpe] .token.generated")) == LENGTH
    assert "tokens in" in driver.find_element(By.CSS_SELECTOR, "[data-model=char] .meta").text

    # Hovering a generated token shows its probability and the most likely alternatives, and
    # highlights its row in the heatmap (the last token is in the attention window).
    last = driver.find_elements(By.CSS_SELECTOR, "[data-model=char] .token.generated")[-1]
    ActionChains(driver).move_to_element(last).perform()
    tooltip = driver.find_element(By.ID, "tooltip")
    _wait(driver, "return !document.getElementById('tooltip').hidden")
    assert "as drawn" in tooltip.text and "by the model" in tooltip.text
    assert len(tooltip.find_elements(By.CSS_SELECTOR, "tr")) == 5
    canvas = driver.find_element(By.CSS_SELECTOR, "[data-model=char] .heatmap")
    assert canvas.get_attribute("data-drawn") == "layer 0 head 0"
    assert canvas.get_attribute("data-row") == "15"  # the last row of a 16-token window
    coloured = driver.execute_script(
        "const c = arguments[0], d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 250) n++; return n;", canvas)
    assert coloured > 0

    # Another layer and head redraw the map.
    driver.execute_script("const s = document.querySelector('[data-model=char] .layer'); s.value = '1';"
                          "s.dispatchEvent(new Event('change'));")
    _wait(driver, "return document.querySelector('[data-model=char] .heatmap').dataset.drawn === 'layer 1 head 0'")

    driver.save_screenshot(str(tmp_path / "playground.png"))
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_the_page_shows_an_error_in_one_line_for_a_character_the_model_never_saw(page):
    from selenium.webdriver.common.by import By

    driver = page
    box = driver.find_element(By.ID, "prompt")
    box.clear()
    box.send_keys("To be?")
    message = _wait(driver, "const e = document.querySelector('[data-model=char] .error');"
                            "return !e.hidden && e.textContent")
    assert "does not know: '?'" in message
