"""The playground's web app (Starlette): the page, and the JSON API under it.

``GET /api/models`` lists the models (their cards), ``GET /api/models/{name}`` gives one card,
``POST /api/tokenize`` splits a text into the tokenizer's pieces, ``POST /api/generate`` streams
sampled tokens as server-sent events, and ``POST /api/attention`` returns the attention maps of a
text. Every error is ``{"error": "..."}`` with a 4xx status; limits (``Limits``) bound what one
request may ask and how many generations run at once. A generation computes its tokens in worker
threads, one step at a time, and stops when its client goes away or the server shuts down.
"""

import json
import os
import threading
from importlib import resources

import anyio
import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ConfigError
from .models import Limits, Sampling, ServedModel


class _Generations:
    """The count of running generations, bounded; ``stopping`` is set when the server shuts down."""

    def __init__(self, limit: int):
        self.limit, self.running, self.stopping = limit, 0, False
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.running >= self.limit:
                return False
            self.running += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.running -= 1


class _EventStream(StreamingResponse):
    """A stream of server-sent events that gives its generation slot back however the response ends."""

    media_type = "text/event-stream"

    def __init__(self, events, release):
        super().__init__(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._release = release

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


_KINDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false", list: "a list",
          type(None): "null"}


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _fail(status: int, message: str):
    raise HTTPException(status, message)


class _Api:
    """The handlers, sharing the models, the limits and the generation count."""

    def __init__(self, models: list[ServedModel], limits: Limits):
        self.models = {m.name: m for m in models}
        self.default = models[0].name
        self.limits = limits
        self.generations = _Generations(limits.max_concurrent)
        # No more tokens computed at once than the cores can take (each step on torch's threads): more
        # threads would only contend for the cores and the GIL.
        self.step_limiter = anyio.CapacityLimiter(max(1, (os.cpu_count() or 1) // torch.get_num_threads()))

    async def body(self, request: Request, fields: dict[str, tuple]) -> dict:
        """The request's JSON object, each field checked against ``fields``: name -> (types, default).

        A default of ``...`` makes the field required. Unknown fields are refused, so that a typo
        is not silently ignored.
        """
        size, chunks = 0, []
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            _fail(413, f"the request body is larger than {self.limits.max_body_bytes:,} bytes")
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                _fail(413, f"the request body is larger than {self.limits.max_body_bytes:,} bytes")
            chunks.append(chunk)
        try:
            data = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            _fail(400, "the request body is not JSON; send an object such as {\"prompt\": \"The \"}")
        if not isinstance(data, dict):
            _fail(400, "the request body must be a JSON object")
        unknown = sorted(set(data) - set(fields))
        if unknown:
            _fail(400, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(fields)}")
        values = {}
        for name, (types, default) in fields.items():
            if name not in data:
                if default is ...:
                    _fail(400, f"the field {name} is required")
                values[name] = default
                continue
            value = values[name] = data[name]
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                kinds = " or ".join(_KINDS[t] for t in types)
                _fail(400, f"the field {name} must be {kinds} (got {json.dumps(value)[:40]})")
        return values

    def model(self, name: str | None) -> ServedModel:
        name = self.default if name is None else name
        if name not in self.models:
            _fail(404, f"no model named {name!r}; this server has {', '.join(self.models)}")
        return self.models[name]

    def text(self, text: str, what: str = "text") -> str:
        if not text:
            _fail(400, f"the {what} is empty; give at least one character")
        if len(text) > self.limits.max_prompt_chars:
            _fail(400, f"the {what} has {len(text):,} characters; this server takes at most "
                       f"{self.limits.max_prompt_chars:,} (mygpt serve --max-prompt-chars)")
        return text

    async def list_models(self, request: Request) -> JSONResponse:
        limits = {"max_prompt_chars": self.limits.max_prompt_chars, "max_new_tokens": self.limits.max_new_tokens,
                  "max_concurrent": self.limits.max_concurrent}
        return JSONResponse({"models": [m.card for m in self.models.values()], "limits": limits})

    async def model_info(self, request: Request) -> JSONResponse:
        return JSONResponse(self.model(request.path_params["name"]).card)

    async def tokenize(self, request: Request) -> JSONResponse:
        args = await self.body(request, {"model": ((str,), None), "text": ((str,), ...)})
        model, text = self.model(args["model"]), self.text(args["text"])
        ids = await anyio.to_thread.run_sync(model.encode, text)
        tokens = model.pieces(ids.tolist())
        return JSONResponse({"model": model.name, "count": len(tokens), "tokens": tokens})

    async def attention(self, request: Request) -> JSONResponse:
        args = await self.body(request, {"model": ((str,), None), "text": ((str, type(None)), None),
                                         "ids": ((list, type(None)), None), "layer": ((int, type(None)), None)})
        model = self.model(args["model"])
        if (args["text"] is None) == (args["ids"] is None):
            _fail(400, "give either text or ids (the token ids of the text)")
        if args["text"] is not None:
            ids = (await anyio.to_thread.run_sync(model.encode, self.text(args["text"]))).tolist()
        else:
            ids = args["ids"]
            if len(ids) > self.limits.max_prompt_chars + self.limits.max_new_tokens:
                _fail(400, f"ids has {len(ids):,} tokens; this server takes at most "
                           f"{self.limits.max_prompt_chars + self.limits.max_new_tokens:,}")
        result = await anyio.to_thread.run_sync(model.attention, ids, args["layer"])
        return JSONResponse({"model": model.name, **result})

    async def generate(self, request: Request) -> _EventStream:
        fields = {"model": ((str,), None), "prompt": ((str,), ...), "max_new_tokens": ((int,), 200),
                  "temperature": ((int, float), 1.0), "top_k": ((int, type(None)), 10),
                  "top_p": ((int, float, type(None)), None), "seed": ((int,), 0), "greedy": ((bool,), False),
                  "alternatives": ((int,), 5)}
        args = await self.body(request, fields)
        model, prompt = self.model(args.pop("model")), self.text(args.pop("prompt"), "prompt")
        if args["max_new_tokens"] > self.limits.max_new_tokens:
            _fail(400, f"max_new_tokens is {args['max_new_tokens']:,}; this server generates at most "
                       f"{self.limits.max_new_tokens:,} (mygpt serve --max-new-tokens)")
        if args.pop("greedy"):
            args["temperature"] = 0
        settings = Sampling(**args)
        ids = await anyio.to_thread.run_sync(model.encode, prompt)
        if not self.generations.acquire():
            _fail(429, f"{self.generations.limit} generations are running, the most this server runs at once "
                       "(mygpt serve --max-concurrent); try again when one has finished")
        start = {"model": model.name, "seed": settings.seed, "window": model.window,
                 "prompt": model.pieces(ids.tolist())}
        return _EventStream(self._events(model, ids, settings, start), self.generations.release)

    async def _events(self, model: ServedModel, ids, settings: Sampling, start: dict):
        """``start``, one ``token`` event per sampled token, then ``done`` (or ``error``)."""
        tokens = model.sample(ids, settings)
        steps, reason = 0, "length"
        try:
            yield _event("start", start)
            while (report := await anyio.to_thread.run_sync(next, tokens, None, limiter=self.step_limiter)) is not None:
                steps += 1
                yield _event("token", report)
                if self.generations.stopping:
                    reason = "server stopping"
                    break
            yield _event("done", {"steps": steps, "reason": reason})
        except Exception as err:  # a bug: tell the client, and re-raise so the server logs the traceback
            yield _event("error", {"error": f"generation failed: {type(err).__name__}: {err}"})
            raise
        finally:
            tokens.close()


async def _json_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ConfigError):
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(resources.files(__package__).joinpath("static", "index.html").read_text(encoding="utf-8"))


def create_app(models: list[ServedModel], limits: Limits | None = None) -> Starlette:
    """The ASGI app serving ``models`` (the first is the default) within ``limits``."""
    if not models:
        raise ValueError("create_app needs at least one model")
    api = _Api(models, limits or Limits())
    routes = [
        Route("/", _page),
        Route("/api/models", api.list_models),
        Route("/api/models/{name}", api.model_info),
        Route("/api/tokenize", api.tokenize, methods=["POST"]),
        Route("/api/generate", api.generate, methods=["POST"]),
        Route("/api/attention", api.attention, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[(__package__, "static")]), name="static"),
    ]

    app = Starlette(routes=routes, exception_handlers={HTTPException: _json_error, ConfigError: _json_error})
    app.state.api = api
    return app


def stop_generations(app: Starlette) -> None:
    """Make every running generation of ``app`` end after its current token (the server is shutting down)."""
    app.state.api.generations.stopping = True
