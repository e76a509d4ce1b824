"""The persisted-query manifest, in Apollo's `apollo-persisted-query-manifest` format.

The packaged one (`manifest.json`) is what `@apollo/generate-persisted-query-manifest`
makes of `operations/` (`make manifest`): each body as Apollo Client prints it, with
`__typename` in every selection set, and its id the sha256 of that body, which is
the hash a stock Apollo Client sends. `build_manifest` makes the same kind of file
of the documents exactly as written, for clients that send them unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    REMOVE,
    FieldNode,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

PACKAGED = Path(__file__).with_name("manifest.json")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _WithoutTypename(Visitor):
    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if node.name.value == "__typename" and node.alias is None and not node.directives:
            return REMOVE
        return None


@lru_cache(maxsize=4096)
def normalized(text: str) -> str | None:
    """The operation as graphql-core prints it without its plain `__typename` fields: the
    same key however the text is spaced, and whether or not a client (Apollo Client's
    cache) added `__typename` to its selection sets, which asks for nothing that matters."""
    try:
        return print_ast(visit(parse(text), _WithoutTypename()))
    except Exception:  # noqa: BLE001 - not a document: it matches nothing
        return None


def build_manifest(operations: Path) -> dict[str, Any]:
    """One entry per `*.graphql` file, its body exactly as written (no `__typename` added)."""
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
        """Whether `text` is one of the manifest's operations, spaced or `__typename`d
        differently (the document as written and Apollo Client's printing of it are one)."""
        return normalized(text) in self.by_text
