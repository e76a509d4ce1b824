"""The schema: committed SDL, the client contract, and the documents' indexes."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse, validate

from graphql_api.schema import schema
from graphql_api.state import AppState
from models import Goal
from tests.conftest import OPERATIONS, ROOT

SHARED = ROOT.parent / "shared" / "operations"
# Run against a synced calendar and a worker: tests/sync/test_google_sync.py.
SYNC = {"SyncCalendar", "SyncStatus"}


def test_schema_graphql_is_what_the_code_builds() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == schema.as_str() + "\n", "run `scheduling-worker export-schema` and commit"


# The clients' next operations (../shared/operations/next/) that run here, copied into
# operations/ beside the others.
NEXT = {
    "Tasks",
    "CreateTask",
    "UpdateTask",
    "CompleteTask",
    "DeleteTask",
    "Schedule",
    "PlanUpdates",
}


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/operations beside this checkout")
def test_operations_are_a_faithful_copy_of_the_shared_contract() -> None:
    shared = {p.name: p.read_text() for p in SHARED.iterdir() if p.is_file()}
    shared |= {
        f"{name}.graphql": (SHARED / "next" / f"{name}.graphql").read_text() for name in NEXT
    }
    ours = {p.name: p.read_text() for p in OPERATIONS.iterdir() if p.is_file()}
    assert ours == shared


@pytest.mark.skipif(not (SHARED / "next").is_dir(), reason="no ../shared/operations/next")
def test_the_next_operations_not_yet_joined_validate_but_for_what_is_not_built() -> None:
    """The clients' next documents that have not joined operations/ (none of them about
    tasks any more) validate but for what they ask of features still to come."""
    for path in sorted((SHARED / "next").glob("*.graphql")):
        if path.stem in NEXT:
            continue
        errors = [e.message for e in validate(schema._schema, parse(path.read_text()))]
        assert [m for m in errors if "task" in m.lower()] == [], path.name


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
def test_every_client_operation_validates(path: Path) -> None:
    assert validate(schema._schema, parse(path.read_text())) == []


EXPECTED_INDEXES = {
    "goals": [
        ["userId", "status"],
        ["targetDate"],
        ["createdAt"],
        ["userId", "status", "priority", "targetDate"],
    ],
    "habits": [["userId", "frequency"], ["userId", "isActive"]],
    "events": [
        ["userId", "calendarId"],
        ["startTime", "endTime"],
        ["userId", "startTime", "endTime"],
    ],
    "check_in_years": [["habitId", "year"]],
    "users": [["sub"]],
    "tasks": [["userId", "status", "priority", "due"], ["due"], ["goalId"]],
}


@pytest.mark.parametrize("collection", sorted(EXPECTED_INDEXES))
async def test_collections_carry_the_seed_indexes(app_state: AppState, collection: str) -> None:
    # Compared by keys: the Mongo-wire test server renames indexes (and drops
    # their direction), so names and -1/1 are checked on the models instead.
    info = await app_state.mongo[app_state.settings.mongodb_db][collection].index_information()
    keys = [[field for field, _ in index["key"]] for index in info.values()]
    for expected in EXPECTED_INDEXES[collection]:
        assert expected in keys


def test_models_declare_the_seed_index_directions() -> None:
    declared = [m.document["key"] for m in Goal.Settings.indexes]
    assert {"createdAt": -1} in [dict(k) for k in declared]
    assert {"userId": 1, "status": 1, "priority": -1, "targetDate": 1} in [
        dict(k) for k in declared
    ]
    sparse = [m.document for m in Goal.Settings.indexes if m.document.get("sparse")]
    assert [dict(m["key"]) for m in sparse] == [{"targetDate": 1}]
