"""``mygpt serve``: the playground in the browser, for one checkpoint or several side by side."""

import argparse
import ipaddress
import os
import socket
import sys

import torch

from ..errors import ConfigError, MissingExtraError
from ..serve.models import Limits, load_models
from ..utils import cache_dir, pick_device
from .checks import check_device, require
from .common import DEVICE_HELP, DEVICES

DESCRIPTION = ("Start a local web page that samples from your checkpoints token by token, colours each "
               "token by its probability with the alternatives on hover, draws the attention of every "
               "layer and head, shows the tokenizer's split and the model card, and compares several "
               "checkpoints side by side on one prompt and seed; a JSON API sits under it. Without a "
               "CHECKPOINT it serves ./model.ckpt (what `mygpt train` writes) or, if there is none, the "
               "Quickstart's default model, trained once into $MYGPT_CACHE (about a minute). Needs "
               "mygpt[serve].")
QUICKSTART_OUTPUT = "model.ckpt"  # the --output of `mygpt train` by default
DEFAULT_MODEL_FILE = "quickstart.ckpt"  # the Quickstart's model, kept in the cache
GRACEFUL_SHUTDOWN_S = 2  # Ctrl-C: running responses get this long to end before they are cancelled
LISTEN_BACKLOG = 2048  # uvicorn's own default


def add_parser(sub) -> None:
    """Register ``mygpt serve``."""
    s = sub.add_parser("serve", help="A playground in the browser: sampling, probabilities, attention.",
                       description=DESCRIPTION)
    s.add_argument("checkpoints", nargs="*", metavar="CHECKPOINT",
                   help="Checkpoints to serve; several are shown side by side. Default: ./model.ckpt, else "
                        "the Quickstart's default model.")
    s.add_argument("--host", default="127.0.0.1",
                   help="Address to listen on. Default: 127.0.0.1 (this machine only); 0.0.0.0 opens it "
                        "to the network, with no login.")
    s.add_argument("--port", type=int, default=8000, help="Port to listen on; 0 picks a free one. Default: 8000.")
    s.add_argument("--device", default="auto", choices=DEVICES, help=DEVICE_HELP)
    s.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch threads per computation. Default: $OMP_NUM_THREADS if set, else 1: a batch-1 "
                        "step of a small model gains little from more, and concurrent generations already "
                        "run in parallel, each in a thread of its own.")
    s.add_argument("--exact", action="store_true",
                   help="Sample on the book's exact path (no fast kernels, no KV cache): slower, and the "
                        "same numbers as `mygpt generate` without --fast.")
    s.add_argument("--max-prompt-chars", type=int, default=Limits.max_prompt_chars,
                   help=f"Longest prompt (or text) a request may send. Default: {Limits.max_prompt_chars}.")
    s.add_argument("--max-new-tokens", type=int, default=Limits.max_new_tokens,
                   help=f"Most tokens one request may generate. Default: {Limits.max_new_tokens}.")
    s.add_argument("--max-concurrent", type=int, default=Limits.max_concurrent,
                   help="Most generations running at once; one more is refused (HTTP 429). "
                        f"Default: {Limits.max_concurrent}.")
    s.set_defaults(func=_serve_command)


def _require_serve():
    """uvicorn and the app; a missing ``serve`` extra becomes a one-line error."""
    try:
        import uvicorn

        from ..serve.app import create_app, stop_generations
    except ImportError as err:
        raise MissingExtraError(f"{err.name} is not installed; pip install 'mygpt[serve]'") from err
    return uvicorn, create_app, stop_generations


def _default_checkpoint() -> str:
    """./model.ckpt if there is one, else the Quickstart's default model, trained into the cache once."""
    if os.path.exists(QUICKSTART_OUTPUT):
        print(f"no CHECKPOINT given: serving {QUICKSTART_OUTPUT} from this directory", flush=True)
        return QUICKSTART_OUTPUT
    path = cache_dir() / DEFAULT_MODEL_FILE
    if not path.exists():
        print(f"no CHECKPOINT given and no {QUICKSTART_OUTPUT} here: training the Quickstart's default model "
              f"(`mygpt train`, about a minute on two cores) into {path}", flush=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"cannot create {path.parent} ({err.strerror}); set MYGPT_CACHE to a writable "
                              "directory or pass a CHECKPOINT") from err
        from . import _build_parser

        argv = ["train", "--output", str(path)]
        train_args = _build_parser().parse_args(argv)
        train_args.func(train_args)
        print(flush=True)
    return str(path)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``; an address that cannot be had is one line (ConfigError)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)  # from here on, clients queue until the server takes them
    except OSError as err:
        raise ConfigError(f"cannot listen on {host} port {port} ({err.strerror or err}); choose another "
                          "--port (0 picks a free one) or --host") from err
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> tuple[str, bool]:
    """The page's address for a socket bound to ``host:port``, and whether only this machine can reach it."""
    address = ipaddress.ip_address(host.split("%")[0])
    if address.is_unspecified:  # every interface: this machine reaches it on the loopback
        host = "127.0.0.1" if address.version == 4 else "::1"
    shown = f"[{host}]" if address.version == 6 else host
    return f"http://{shown}:{port}/", address.is_loopback


def _announce(models, url: str, local: bool, host: str, port: int) -> None:
    """What is served where; a warning when more than this machine can reach it."""
    for model in models:
        card = model.card
        print(f"model {model.name}: {model.path} ({card['tokenizer']['kind']} tokenizer, "
              f"{card['parameters']['total']:,} parameters, {card['path']} sampling)")
    if not local:
        print(f"mygpt: warning: listening on {host}, not only on this machine: anyone who can reach port "
              f"{port} can use these models (there is no login)", file=sys.stderr)
    print(f"serving on {url} (Ctrl-C stops)", flush=True)


def _serve_command(args: argparse.Namespace) -> None:
    require(0 <= args.port <= 65535, f"--port must be from 0 to 65535 (got {args.port})")
    limits = Limits(args.max_prompt_chars, args.max_new_tokens, args.max_concurrent)
    require(args.threads is None or args.threads >= 1, f"--threads must be at least 1 (got {args.threads})")
    check_device(args.device)
    if args.threads is not None or "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(args.threads or 1)
    uvicorn, create_app, stop_generations = _require_serve()
    paths = args.checkpoints or [_default_checkpoint()]
    models = load_models(paths, pick_device(args.device), fast=not args.exact)
    sock = _listen(args.host, args.port)
    app = create_app(models, limits)
    host, port = sock.getsockname()[:2]
    _announce(models, *_url(host, port), args.host, port)

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            stop_generations(app)  # running generations end after their current token
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    try:
        Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        print("mygpt: stopped serving", file=sys.stderr)
        sys.exit(130)
