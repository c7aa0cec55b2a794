"""Make ``docs/serve.png``: the playground with checkpoints side by side, a token's alternatives shown.

    python docs/serve_screenshot.py quickstart.ckpt shakespeare.ckpt --prompt "The " --out docs/serve.png

Serves the checkpoints on a free loopback port, opens the page in Debian's headless Chromium (the
tests' helpers), generates with a fixed seed, hovers a generated token and saves the window.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.serve import headless_chromium, running_server

from mygpt.serve.app import create_app
from mygpt.serve.models import load_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT")
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--length", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hover", type=int, default=-4, help="Which generated token to hover (index).")
    parser.add_argument("--layer", type=int, default=1)
    parser.add_argument("--out", default="docs/serve.png")
    args = parser.parse_args()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    app = create_app(load_models(args.checkpoints, torch.device("cpu")))
    with running_server(app) as base, headless_chromium() as driver:
        driver.set_window_size(1400, 1180)
        driver.get(base)
        time.sleep(1)
        driver.find_element(By.ID, "prompt").send_keys(args.prompt)
        driver.execute_script(
            f"const l = document.getElementById('length'); l.value = {args.length}; l.dispatchEvent(new Event('input'));"
            f"const s = document.getElementById('seed'); s.value = {args.seed};")
        for select in driver.find_elements(By.CSS_SELECTOR, ".layer"):
            driver.execute_script(f"arguments[0].value = '{args.layer}';", select)
        time.sleep(1)
        driver.find_element(By.ID, "generate").click()
        while driver.find_element(By.ID, "status").text != "done":
            time.sleep(0.1)
        time.sleep(1)
        token = driver.find_elements(By.CSS_SELECTOR, ".column .token.generated")[args.hover]
        ActionChains(driver).move_to_element(token).perform()
        time.sleep(0.5)
        driver.save_screenshot(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
