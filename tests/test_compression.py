"""The answers' gzip (graphql_api.compression): what Starlette's GZipMiddleware would
send, compressed by zlib-ng, with the excluded media types normalized once."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from zlib_ng import zlib_ng

from graphql_api.compression import GZip

EXCLUDED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "multipart/mixed")
MEDIA_TYPES = [
    "application/json",
    "application/graphql-response+json; charset=utf-8",
    "text/html",
    "Multipart/Mixed; boundary=-",
    "image/PNG",
    "text/event-stream",
    "application/grpc+proto",
    "video/mp4",
]


def _app(media_type: str, chunks: list[bytes], extra: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", media_type.encode()), *extra]
        if len(chunks) == 1:
            headers.append((b"content-length", str(len(chunks[0])).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, chunk in enumerate(chunks):
            more = i < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


async def _send_through(middleware: Any, accept: bytes | None) -> tuple[dict[str, str], bytes]:
    """The headers the client gets and the body it reads (decompressed if it came gzipped)."""
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    headers = [(b"host", b"api")] + ([(b"accept-encoding", accept)] if accept is not None else [])
    await middleware({"type": "http", "method": "POST", "headers": headers}, receive, send)
    start = messages[0]
    got = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in messages[1:])
    if got.get("content-encoding") == "gzip":
        if "content-length" in got:
            assert int(got["content-length"]) == len(body)
        body = gzip.decompress(body)
    return got, body


@settings(max_examples=150, deadline=None)
@given(
    media_type=st.sampled_from(MEDIA_TYPES),
    sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=3),
    accept=st.sampled_from([None, b"gzip", b"gzip, deflate, br", b"br", b"identity", b"GZIP"]),
    encoded=st.booleans(),
    seed=st.integers(0, 255),
)
async def test_answers_are_what_starlettes_gzip_sends_them_as(
    media_type: str, sizes: list[int], accept: bytes | None, encoded: bool, seed: int
) -> None:
    # given: a response of that type, in one message or streamed, maybe encoded already
    chunks = [bytes((seed + i * 7 + n) % 26 + 97 for i in range(n)) for n in sizes]
    extra = [(b"content-encoding", b"br")] if encoded else []
    ours = GZip(
        _app(media_type, chunks, extra),
        minimum_size=1024,
        compresslevel=6,
        exclude_content_types=EXCLUDED,
    )
    stock = GZipMiddleware(
        _app(media_type, chunks, extra),
        minimum_size=1024,
        compresslevel=6,
        exclude_content_types=EXCLUDED,
    )
    # when
    our_headers, our_body = await _send_through(ours, accept)
    their_headers, their_body = await _send_through(stock, accept)
    # then: the same body and headers (the length of what each compressor made aside)
    assert our_body == their_body == b"".join(chunks)
    our_headers.pop("content-length", None)
    their_headers.pop("content-length", None)
    assert our_headers == their_headers


async def test_a_large_json_answer_is_gzipped_and_an_excluded_stream_is_not() -> None:
    body = b'{"data":' + b'"x"' * 600 + b"}"
    json_app = GZip(_app("application/json", [body], []), minimum_size=1024, compresslevel=6)
    headers, read = await _send_through(json_app, b"gzip, deflate")
    assert headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in headers["vary"]
    assert read == body

    parts = [b"--\r\n" + b"y" * 1500, b"--\r\n" + b"z" * 1500]
    stream = GZip(
        _app("multipart/mixed; boundary=-", parts, []),
        minimum_size=1024,
        compresslevel=6,
        exclude_content_types=EXCLUDED,
    )
    headers, read = await _send_through(stream, b"gzip")
    assert "content-encoding" not in headers
    assert read == b"".join(parts)


async def test_an_answer_sent_again_is_compressed_once_and_each_reads_as_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: two answers of one size, never sent before, and the compressions counted
    made: list[int] = []
    compressobj = zlib_ng.compressobj

    def counted(*args: Any) -> Any:
        made.append(1)
        return compressobj(*args)

    monkeypatch.setattr(zlib_ng, "compressobj", counted)
    tag = uuid.uuid4().hex.encode()
    one, other = (b'{"data":"' + tag + letter * 2000 + b'"}' for letter in (b"a", b"b"))

    async def sent(body: bytes) -> bytes:
        app = GZip(_app("application/json", [body], []), minimum_size=1024, compresslevel=6)
        headers, read = await _send_through(app, b"gzip")
        assert headers["content-encoding"] == "gzip"
        return read

    # when: the first sent twice, then the other
    first, again, second = await sent(one), await sent(one), await sent(other)
    # then: each client reads the answer it was sent; the repeat was not compressed again
    assert (first, again, second) == (one, one, other)
    assert len(made) == 2
