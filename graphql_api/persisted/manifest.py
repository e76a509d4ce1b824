"""The persisted-query manifest, in Apollo's `apollo-persisted-query-manifest` format."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import OperationDefinitionNode, parse, print_ast

PACKAGED = Path(__file__).with_name("manifest.json")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=4096)
def normalized(text: str) -> str | None:
    """The document as graphql-core prints it: the same operation, however it is spaced."""
    try:
        return print_ast(parse(text))
    except Exception:  # noqa: BLE001 - not a document: it matches nothing
        return None


def build_manifest(operations: Path) -> dict[str, Any]:
    """One entry per `*.graphql` file, its body exactly as the clients send it."""
    entries = []
    for path in sorted(operations.glob("*.graphql")):
        body = path.read_text()
        document = parse(body)
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation.name is None or operation.name.value != path.stem:
            raise ValueError(f"{path.name}: expected one operation named {path.stem}")
        entries.append(
            {"id": sha256(body), "name": path.stem, "type": operation.operation.value, "body": body}
        )
    return {"format": "apollo-persisted-query-manifest", "version": 1, "operations": entries}


def render(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Manifest:
    by_id: dict[str, str]
    by_text: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text())
        if data.get("format") != "apollo-persisted-query-manifest" or data.get("version") != 1:
            raise ValueError(f"{path} is not an apollo-persisted-query-manifest, version 1")
        by_id = {op["id"]: op["body"] for op in data["operations"]}
        texts = frozenset(n for body in by_id.values() if (n := normalized(body)) is not None)
        return cls(by_id=by_id, by_text=texts)

    def allows(self, text: str) -> bool:
        return normalized(text) in self.by_text
