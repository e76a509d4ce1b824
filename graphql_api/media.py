"""The media type of a JSON answer, as the GraphQL over HTTP spec negotiates it.

`application/graphql-response+json` is sent to clients that prefer it (the
audit's and newer clients' `Accept`); everyone else, `*/*` and a missing
`Accept` included, gets `application/json` exactly as before. In the new media
type a request error (nothing executed: the document did not parse or
validate, the variables did not coerce, the request was refused) has no `data`
entry and a 4xx status, so a client can tell it from a field error by the
status alone; `application/json` answers keep `"data": null` and 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"

# A media range of the Accept header -> the answer it selects.
_SELECTS = {
    GRAPHQL_RESPONSE_JSON: GRAPHQL_RESPONSE_JSON,
    JSON: JSON,
    "application/*": JSON,
    "*/*": JSON,
}


@lru_cache(maxsize=256)
def negotiated(accept: str | None) -> str:
    """The media type to answer in: the most preferred range (by q, then by the order
    listed) that names one of ours; application/json when none does."""
    ranges: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept or "").split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        selected = _SELECTS.get(media.lower())
        if selected is not None and quality > 0:
            ranges.append((-quality, position, selected))
    return min(ranges)[2] if ranges else JSON


def is_request_error(answer: Mapping[str, Any]) -> bool:
    """No data and no error raised by a field: execution never started (or was refused)."""
    errors = answer.get("errors")
    return (
        answer.get("data") is None
        and bool(errors)
        and all(isinstance(e, Mapping) and "path" not in e for e in errors or ())
    )
