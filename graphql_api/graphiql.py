"""GraphiQL with every asset served by this server: no CDN, integrity hashes intact.

Strawberry's page loads React, GraphiQL, js-cookie and the explorer plugin from
unpkg at pinned versions with subresource-integrity hashes. `npm ci` puts the
very same packages in node_modules (package.json pins them); the page is
rewritten to fetch them from `/graphiql/<package>@<version>/<file>` here, so
the browser checks the same hashes against the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from strawberry.http.ides import get_graphql_ide_html

CDN = "https://unpkg.com/"
PREFIX = "/graphiql/"
_ASSET = re.compile(r"https://unpkg\.com/((?:@[\w.-]+/)?[\w.-]+)@([\w.-]+)/([\w./-]+)")
_LOCAL = re.compile(r"((?:@[\w.-]+/)?[\w.-]+)@([\w.-]+)/([\w./-]+)")
_TYPES = {".js": "application/javascript", ".css": "text/css", ".map": "application/json"}


class GraphiQLPage:
    def __init__(
        self, assets: Path, default_headers: Callable[[], dict[str, str]] | None = None
    ) -> None:
        self.assets = assets
        self.default_headers = default_headers

    @cached_property
    def template(self) -> str:
        return get_graphql_ide_html("graphiql")

    @cached_property
    def pinned(self) -> dict[str, str]:
        """package -> version, as the page references them."""
        return {pkg: version for pkg, version, _ in _ASSET.findall(self.template)}

    def missing(self) -> list[str]:
        """Referenced assets that are not installed (at the pinned version)."""
        absent = []
        for pkg, version, path in _ASSET.findall(self.template):
            installed = self._installed_version(pkg)
            if installed != version or not (self.assets / pkg / path).is_file():
                absent.append(f"{pkg}@{version}/{path}")
        return absent

    def _installed_version(self, pkg: str) -> str | None:
        try:
            manifest = json.loads((self.assets / pkg / "package.json").read_text())
        except (OSError, ValueError):
            return None
        version = manifest.get("version")
        return version if isinstance(version, str) else None

    def html(self) -> str:
        if missing := self.missing():
            return (
                "<!doctype html><title>GraphiQL</title><h1>GraphiQL's assets are not installed</h1>"
                f"<p>Missing under {self.assets}: {', '.join(missing)}.</p>"
                "<p>Run <code>npm ci</code> in the project (<code>make run</code> does it).</p>"
            )
        page = self.template.replace(CDN, PREFIX)
        if self.default_headers:
            # An empty header editor starts with these (the development token).
            headers = json.dumps(self.default_headers(), indent=2)
            page = page.replace(
                "React.useState(parameters.headers)",
                f"React.useState(parameters.headers || {json.dumps(headers)})",
            )
        return page

    async def asset(self, request: Request) -> Response:
        match = _LOCAL.fullmatch(request.path_params["path"])
        if not match or ".." in match[3]:
            return PlainTextResponse("not found", status_code=404)
        pkg, version, path = match.groups()
        if self.pinned.get(pkg) != version or self._installed_version(pkg) != version:
            return PlainTextResponse("not found", status_code=404)
        file = self.assets / pkg / path
        if not file.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(
            file,
            media_type=_TYPES.get(file.suffix, "application/octet-stream"),
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )
