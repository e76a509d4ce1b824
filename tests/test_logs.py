"""Logs for whoever reads them: text for a person at a terminal, JSON for machines."""

from __future__ import annotations

import json
import logging
import os

import pytest

from graphql_api.observability.logs import configure_logging
from graphql_api.settings import Settings


@pytest.mark.parametrize(
    ("stream", "env", "log_format", "expected"),
    [
        ("terminal", "development", None, "text"),
        ("pipe", "development", None, "json"),
        ("terminal", "production", None, "json"),
        ("terminal", "development", "json", "json"),
        ("pipe", "production", "text", "text"),
    ],
)
def test_logs_are_text_for_a_person_at_a_terminal_and_json_for_machines(
    settings: Settings, stream: str, env: str, log_format: str | None, expected: str
) -> None:
    # given: the log stream a terminal (a pseudo-terminal) or a pipe
    reader, writer = os.openpty() if stream == "terminal" else os.pipe()
    output = os.fdopen(writer, "w", buffering=1)
    configured = settings.model_copy(update={"env": env, "log_format": log_format})
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # when
    configure_logging(configured, output)
    try:
        logging.getLogger("graphql_api.test").warning("sync of %s finished", "work")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        output.close()
    line = os.read(reader, 4096).decode().strip()
    os.close(reader)
    # then
    if expected == "json":
        record = json.loads(line)
        assert (record["level"], record["message"]) == ("WARNING", "sync of work finished")
    else:
        assert line.endswith("WARNING graphql_api.test: sync of work finished")
