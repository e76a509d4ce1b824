"""bench/RESULTS.md: one section per benchmark, replaced in place by each run."""

from __future__ import annotations

import re
from pathlib import Path

HEADER = (
    "# Benchmark results\n\n"
    "Figures are ratios between runs made together, on the same machine, in one\n"
    "command; absolute numbers depend on the machine. Each section names its command.\n"
)


def update_section(path: Path, title: str, body: str) -> None:
    text = path.read_text() if path.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(section + "\n", text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{section}"
    )
    path.write_text(text.rstrip() + "\n")
