"""gzip for answers, at the seed's level 6, compressed by zlib-ng.

Starlette's GZipMiddleware compresses with the standard library's zlib. zlib-ng (the
`zlib-ng` package: the same deflate format, any gzip reader takes it) compresses at
the same level in about two thirds of the time: 98 against 145 µs for an events page
of 23 KB, 74 against 90 for a Dashboard, measured on this machine. Everything else
(which answers, the minimum size, the excluded types, streams) is Starlette's.

Starlette's responders, made for every request, normalize the excluded media types
again each time (fifteen here); the middleware has them normalized already, and hands
them over as they are. The request's Accept-Encoding is read from its raw headers.
The middleware's own time beside compressing, measured: 37.1 against 39.0 µs on a
5.9 KB answer, 4.3 against 6.2 µs on a small one.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import Receive, Scope, Send
from zlib_ng import zlib_ng

from graphql_api.memo import Memo, kept

# Answers compressed, by their bytes: an answer served from the cache is the same bytes
# request after request (so is an answer executed again over unchanged data), and
# compressing one costs ~75-100 µs at level 6 where finding it costs the hash of its
# bytes (~2 µs for 6 KB). The same bytes and level always compress to the same gzip
# stream (zlib writes no time or name into its header). Bounded by what the entries
# hold, their bodies counted too; a body above BODY_MAX is compressed every time.
MEMO_BYTES = 4 * 2**20
BODY_MAX = 64 * 2**10
_COMPRESSED: Memo[bytes, tuple[bytes, int]] = Memo(MEMO_BYTES, weigh=lambda e: len(e[0]) + e[1])


class _Responder(GZipResponder):
    def _compress_body(self, body: bytes, more_body: bool) -> bytes:
        if more_body or self._compressor is not None or len(body) > BODY_MAX:
            # Part of a stream (its first parts went through this responder's compressor).
            return super()._compress_body(body, more_body)
        found = _COMPRESSED.get(body)
        if found is not None:
            return found[0]
        compressed = super()._compress_body(body, more_body)
        _COMPRESSED[kept(body)] = compressed, len(body)
        return compressed

    @property
    def compressor(self) -> zlib_ng._Compress:  # type: ignore[override]
        if self._compressor is None:
            self._compressor = zlib_ng.compressobj(  # type: ignore[assignment]
                self.compresslevel, zlib_ng.DEFLATED, 16 + zlib_ng.MAX_WBITS
            )
        return self._compressor  # type: ignore[return-value]


class GZip(GZipMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder: IdentityResponder
        if b"gzip" in _accept_encoding(scope):
            responder = _Responder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=(),
            )
        else:
            responder = IdentityResponder(self.app, self.minimum_size, exclude_content_types=())
        responder.exclude_content_types = self.exclude_content_types  # normalized in __init__
        await responder(scope, receive, send)


def _accept_encoding(scope: Scope) -> bytes:
    """The first Accept-Encoding header's value (Starlette's `Headers.get`), b"" if none."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return bytes(value)
    return b""
