"""The packaged manifest is Apollo's, made of operations/; the CLI's is of the documents as
written; the server takes them for the same operations."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from graphql_api.persisted.manifest import (
    PACKAGED,
    Manifest,
    build_manifest,
    normalized,
    render,
    sha256,
)
from tests.conftest import OPERATIONS, ROOT, operation, run

CONFIG = ROOT / "persisted-query-manifest.config.json"
TOOL = ROOT / "node_modules" / ".bin" / "generate-persisted-query-manifest"


def generated(tmp_path: Path) -> str:
    """What `make manifest` writes, written elsewhere: the same config, another output."""
    if not TOOL.exists():
        pytest.fail("node_modules is missing: run `npm ci` (make test does)")
    config = tmp_path / "config.json"
    output = tmp_path / "manifest.json"
    config.write_text(json.dumps({**json.loads(CONFIG.read_text()), "output": str(output)}))
    done = subprocess.run(
        [shutil.which("node") or "node", str(TOOL), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return output.read_text()


def test_the_packaged_manifest_is_what_apollos_tool_makes_of_the_operations(
    tmp_path: Path,
) -> None:
    # given: the output `make manifest` writes
    assert json.loads(CONFIG.read_text())["output"] == str(PACKAGED.relative_to(ROOT))
    # then: the committed file is the tool's, byte for byte (`make manifest` after a change)
    assert PACKAGED.read_text() == generated(tmp_path)


def test_the_packaged_manifest_has_every_operation_as_apollo_client_sends_it() -> None:
    manifest = json.loads(PACKAGED.read_text())
    entries = {op["name"]: op for op in manifest["operations"]}
    assert (manifest["format"], manifest["version"]) == ("apollo-persisted-query-manifest", 1)
    assert set(entries) == {p.stem for p in OPERATIONS.glob("*.graphql")}
    for name, entry in entries.items():
        assert entry["id"] == sha256(entry["body"])  # the hash Apollo Client sends
        assert "__typename" not in operation(name)
        assert normalized(entry["body"]) == normalized(operation(name))
    # Apollo Client's cache adds __typename to every object it selects
    plain = {name for name, entry in entries.items() if "__typename" not in entry["body"]}
    assert plain == {"DeleteGoal", "DeleteHabit", "DeleteTask", "RecommendationFeedback"}


def test_the_cli_prints_the_documents_as_written(tmp_path: Path) -> None:
    # given
    packaged = PACKAGED.read_text()
    # when
    printed = run("persisted-manifest", "--operations", str(OPERATIONS), cwd=ROOT)
    run("persisted-manifest", "--operations", str(OPERATIONS), "-o", str(tmp_path / "m.json"))
    # then: ids are the sha256 of each file; the packaged manifest is left alone
    assert printed == render(build_manifest(OPERATIONS)) == (tmp_path / "m.json").read_text()
    bodies = {op["name"]: op for op in json.loads(printed)["operations"]}
    assert bodies["Me"] == {
        "id": sha256(operation("Me")),
        "name": "Me",
        "type": "query",
        "body": operation("Me"),
    }
    assert PACKAGED.read_text() == packaged


@pytest.mark.parametrize(
    ("text", "same"),
    [
        ("query Me { me { id email } }", True),
        ("query Me {\n  me {\n    id\n    email\n    __typename\n  }\n}", True),
        ("query Me { __typename me { __typename id email } }", True),
        ("query Me { me { id } }", False),
        ("query Me { me { id email kind: __typename } }", False),
        ("query Other { me { id email } }", False),
        ("not a document", False),
    ],
)
def test_texts_are_the_same_operation_whatever_their_spacing_and_typename(
    tmp_path: Path, text: str, same: bool
) -> None:
    # given: a manifest of one operation, as Apollo Client prints it
    path = tmp_path / "manifest.json"
    body = "query Me {\n  me {\n    id\n    email\n    __typename\n  }\n}"
    entry = {"id": sha256(body), "name": "Me", "type": "query", "body": body}
    path.write_text(
        render({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [entry]})
    )
    # then
    assert Manifest.load(path).allows(text) is same


def test_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"format": "persisted-documents", "version": 1, "operations": []}))
    with pytest.raises(ValueError, match="apollo-persisted-query-manifest"):
        Manifest.load(path)
