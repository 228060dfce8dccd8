"""``openai``: any OpenAI-compatible server (vLLM, SGLang, llama-server, llama-cpp-python's server).

This is how users scale past one machine: ``--base-url`` takes one server, or several separated by
commas (one vLLM or SGLang server per GPU or node): each request goes to the server with the fewest
requests in flight, and a server that fails is left for the next try on another. Requests go out
concurrently (``--concurrency`` per server), each with a timeout; results keep the requests' order. Connection
errors, timeouts, 429 and 5xx answers and malformed bodies are retried with exponential backoff,
then reported as one clear error. Written on the standard library (urllib + threads) because
the protocol is two JSON endpoints and a client library would add nothing but a dependency.
The API key comes from the environment (``--api-key-env``, default ``OPENAI_API_KEY``), never a flag.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, Optional

from pydantic import field_validator

from codeladder.backends.base import Completion, Engine, GenerationParams, Request, apply_stops
from codeladder.errors import LadderError
from codeladder.params import VerbParams, option

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIOptions(VerbParams):
    """Options of the openai backend (any OpenAI-compatible server)."""

    verb: ClassVar[str] = "openai"
    base_url: Optional[str] = option(None, "the server, http(s)://HOST:PORT/v1, or several separated by commas "
                                           "(requests spread by load); default: --model when it is a URL")
    concurrency: int = option(8, "requests in flight per server", ge=1)
    api_key_env: str = option("OPENAI_API_KEY", "the environment variable that holds the API key (the key "
                                                "itself is never a flag)")
    request_timeout: float = option(120.0, "seconds per request before it is retried", gt=0)
    retries: int = option(4, "retries per request (exponential backoff) before one clear error", ge=0)
    backoff_s: float = option(0.5, "first retry delay in seconds; doubles each try", ge=0)
    endpoint: str = option("auto", "chat, completions, or auto (chat unless --mode completion)",
                           choices=("auto", "chat", "completions"))
    extra_body: Optional[str] = option(None, "a JSON object merged into every request: a server's own sampling "
                                             "fields, e.g. '{\"repeat_penalty\": 1.0}' for llama.cpp's server "
                                             "(its default 1.1 penalises repeats even when greedy)")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        urls = [u.strip().rstrip("/") for u in value.split(",") if u.strip()]
        if not urls or any(not u.startswith(("http://", "https://")) for u in urls):
            raise ValueError("expected http(s)://HOST:PORT/v1 (several: comma-separated)")
        return ",".join(urls)

    @field_validator("extra_body")
    @classmethod
    def _extra(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parsed = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not JSON ({exc})") from None
            if not isinstance(parsed, dict):
                raise ValueError("expected a JSON object, e.g. '{\"repeat_penalty\": 1.0}'")
        return value


class Servers:
    """Picks a server per request: the fewest requests in flight, then the fewest served; one that just
    failed is avoided while another is available. Counts what each served (recorded in ``describe``)."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.in_flight = dict.fromkeys(urls, 0)
        self.served = dict.fromkeys(urls, 0)
        self.failed_at = dict.fromkeys(urls, 0.0)
        self._lock = threading.Lock()

    def acquire(self, avoid: str | None = None) -> str:
        with self._lock:
            choices = [u for u in self.urls if u != avoid] or self.urls
            url = min(choices, key=lambda u: (self.failed_at[u] > time.monotonic() - 5, self.in_flight[u],
                                              self.served[u]))
            self.in_flight[url] += 1
            return url

    def release(self, url: str, ok: bool) -> None:
        with self._lock:
            self.in_flight[url] -= 1
            if ok:
                self.served[url] += 1
            else:
                self.failed_at[url] = time.monotonic()


class _Retryable(Exception):
    pass


class OpenAIEngine(Engine):
    """Generation only: a server returns no full logits, so it cannot be scored or compared logit by logit."""

    name = "openai"

    def __init__(self, model: str | None, options: OpenAIOptions | None = None):
        options = options or OpenAIOptions()
        base_url = options.base_url
        if base_url is None and model and model.startswith(("http://", "https://")):
            base_url, model = model, None
        if not base_url:
            raise LadderError("--backend openai needs --base-url http://HOST:PORT/v1")
        self.servers = Servers([u.rstrip("/") for u in base_url.split(",")])
        self.base_url = ",".join(self.servers.urls)
        self.model = model
        self.extra_body = json.loads(options.extra_body) if options.extra_body else {}
        self.concurrency, self.timeout_s = options.concurrency, options.request_timeout
        self.batch_hint = self.concurrency * len(self.servers.urls)
        self.retries, self.backoff_s, self.endpoint = options.retries, options.backoff_s, options.endpoint
        self.api_key = os.environ.get(options.api_key_env, "")

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.model or self.base_url, "device": f"server {self.base_url}",
                "dtype": "server-side", "concurrency": self.concurrency, "servers": dict(self.servers.served)}

    def uses_chat(self, mode: str) -> bool:
        if self.endpoint != "auto":
            return self.endpoint == "chat"
        return mode != "completion"

    def _post(self, path: str, body: dict) -> dict:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last, url = "", None
        for attempt in range(self.retries + 1):
            url = self.servers.acquire(avoid=url if last else None)
            ok = False
            try:
                request = urllib.request.Request(f"{url}{path}", data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                try:
                    parsed = json.loads(raw)
                    parsed["choices"][0]
                    ok = True
                    return parsed
                except (ValueError, KeyError, IndexError, TypeError):
                    raise _Retryable(f"malformed response: {raw[:120]!r}") from None
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRYABLE_STATUS:
                    detail = exc.read()[:200].decode("utf-8", "replace")
                    raise LadderError(f"{url}{path}: HTTP {exc.code} {detail}") from None
                last = f"HTTP {exc.code} from {url}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, _Retryable) as exc:
                last = f"{getattr(exc, 'reason', exc) or type(exc).__name__} from {url}"
            finally:
                self.servers.release(url, ok)
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2 ** attempt)
        raise LadderError(f"{self.base_url}{path}: no usable answer after {self.retries + 1} tries ({last}); "
                          "is the server up? finished samples are saved, rerun to resume")

    def _one(self, request: Request, params: GenerationParams, chat: bool, index: int) -> Completion:
        body = {"max_tokens": params.max_new_tokens, "temperature": params.temperature, "top_p": params.top_p,
                "seed": params.seed + index}
        if self.model:
            body["model"] = self.model
        if params.top_k:
            body["top_k"] = params.top_k
        if params.stop:
            body["stop"] = list(params.stop)[:4]  # the OpenAI API takes at most 4
        if params.logprobs:
            body["logprobs"] = True if chat else 1
        body.update(self.extra_body)
        began = time.perf_counter()
        if chat:
            answer = self._post("/chat/completions", {**body, "messages": request.prompt.messages})
            text = answer["choices"][0].get("message", {}).get("content") or ""
        else:
            answer = self._post("/completions", {**body, "prompt": request.prompt.text})
            text = answer["choices"][0].get("text") or ""
        seconds = time.perf_counter() - began
        usage = answer.get("usage") or {}
        completion = Completion(text=apply_stops(text, params.stop), prompt_tokens=usage.get("prompt_tokens", 0),
                                completion_tokens=usage.get("completion_tokens", 0), seconds=seconds, chat=chat)
        completion.mean_logprob = _mean_logprob(answer["choices"][0].get("logprobs"))
        return completion

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]:
        chat = self.uses_chat(params.mode)
        with ThreadPoolExecutor(max_workers=max(1, self.batch_hint)) as pool:
            futures = [pool.submit(self._one, r, params, chat, i) for i, r in enumerate(requests)]
            return [f.result() for f in futures]


def _mean_logprob(logprobs) -> float | None:
    if not logprobs:
        return None
    if isinstance(logprobs, dict) and logprobs.get("token_logprobs") is not None:
        values = [v for v in logprobs["token_logprobs"] if v is not None]
    elif isinstance(logprobs, dict) and logprobs.get("content"):
        values = [item["logprob"] for item in logprobs["content"] if item.get("logprob") is not None]
    else:
        return None
    return sum(values) / len(values) if values else None
