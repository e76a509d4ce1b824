"""The command line: `scheduling-worker serve | worker | train | token | export-schema |
seed-demo | ...`.

Each command loads the parts it runs, in its body: the supervisor of `serve --workers N`
only starts and watches the API processes, and without the app, the schema and the
worker it stays ~50 MB instead of ~150 (its RSS counts beside theirs); `evaluate` and
`train` bring the simulator and scipy.stats, which no API process ever needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvloop
from pydantic import ValidationError
from tqdm import tqdm

from graphql_api.embedded import die_with_parent, embedded_backends, stop_process
from graphql_api.observability.logs import configure_logging
from graphql_api.serving import BOOT_FAILED, Processes, hypercorn_config, process_count
from graphql_api.settings import Settings, get_settings
from graphql_api.shutdown import on_termination

if TYPE_CHECKING:
    from hypercorn.config import Config

    from graphql_api.recommend.training import Report

# The shared contract when it sits beside the checkout, else the repository's copy.
_SHARED = Path("../shared/operations")
DEFAULT_OPERATIONS = _SHARED if _SHARED.is_dir() else Path("operations")
LOCAL_BINDS = ("127.0.0.1", "0.0.0.0", "::")  # noqa: S104 - names, not a bind
cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _settings() -> Settings:
    """The settings, or a readable refusal instead of a traceback."""
    try:
        return get_settings()
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'settings'}: {err['msg']}" for err in e.errors()
        )
        typer.echo(f"error: invalid settings: {problems}", err=True)
        raise typer.Exit(2) from None


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            typer.echo(
                f"error: cannot listen on {host}:{port} ({e.strerror}); set PORT or --port",
                err=True,
            )
            raise typer.Exit(2) from None


@contextlib.contextmanager
def _embedded_worker(settings: Settings, resolved: Settings) -> Iterator[None]:
    """On the embedded default, the sync worker runs beside the server (its own process)."""
    if settings.mongodb_uri or settings.redis_url or not settings.embedded_worker:
        yield
        return
    env = {
        # Not the API's PROMETHEUS_MULTIPROC_DIR: the worker serves its own /metrics.
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "MONGODB_URI": str(resolved.mongodb_uri),
        "REDIS_URL": str(resolved.redis_url),
    }
    proc = subprocess.Popen(  # noqa: S603 - our own console script
        [str(Path(sys.executable).parent / "scheduling-worker"), "worker"],
        env=env,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
    )
    logging.getLogger(__name__).info("sync worker started (pid %d)", proc.pid)
    try:
        yield
    finally:
        stop_process(proc, 15)


def _logging() -> None:

    configure_logging(_settings())


@cli.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: PORT, 3003)")] = None,
    host: Annotated[str | None, typer.Option(help="Interface (default: HOST)")] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A hypercorn TOML file (keep-alive, graceful timeout, ...); "
            "HOST and PORT still choose the address",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="API processes on the one port (default: WEB_CONCURRENCY, "
            "else the config's `workers`, else 1)",
        ),
    ] = None,
) -> None:
    """Run the API; with MONGODB_URI / REDIS_URL unset, start the embedded backends too."""

    _logging()
    settings = _settings()
    overrides = {k: v for k, v in {"port": port, "host": host}.items() if v is not None}
    settings = settings.model_copy(update=overrides)
    _check_port_free(settings.host, settings.port)
    with embedded_backends(settings) as resolved, _embedded_worker(settings, resolved):
        config = hypercorn_config(config_file)
        count = process_count(workers, resolved, config)
        config.bind = [f"{resolved.host}:{resolved.port}"]
        config.workers = 1  # each process serves alone; several are Processes' business
        shown_host = "localhost" if resolved.host in LOCAL_BINDS else resolved.host
        url = f"http://{shown_host}:{resolved.port}/graphql"
        if resolved.is_production or not resolved.dev_tokens_accepted:
            typer.echo(f"\nGraphQL endpoint: {url}\n")
        else:
            from graphql_api.security.dev_tokens import mint_dev_token  # noqa: PLC0415 - docstring

            token = mint_dev_token(resolved, "dev-user", email="dev@example.com")
            header = json.dumps({"Authorization": f"Bearer {token}"})
            typer.echo(f"\nGraphiQL: {url}\nDevelopment bearer token (user dev-user):")
            typer.echo(f"  Authorization: Bearer {token}")
            typer.echo(f"GraphiQL's Headers editor takes it as JSON:\n  {header}\n")
        if count == 1:
            _serve_here(resolved, config)
            return
        logging.getLogger(__name__).info("serving with %d API processes", count)
        status = Processes(resolved, config, count, config_file).run()
    raise typer.Exit(status)


def _serve_here(
    settings: Settings, config: Config, on_serving: Callable[[], None] | None = None
) -> None:
    """The app in this process until SIGTERM or SIGINT, then the drain; `on_serving` is
    called once the socket is served (hypercorn starts the trigger after listening)."""

    from hypercorn.asyncio import serve as hypercorn_serve  # noqa: PLC0415 - docstring

    from graphql_api import keepalive  # noqa: PLC0415 - docstring
    from graphql_api.app import create_app  # noqa: PLC0415 - docstring

    keepalive.install()
    app = create_app(settings)
    termination = on_termination(app.state.drain)

    async def trigger() -> None:
        if on_serving is not None:
            on_serving()
        await termination()

    serving = hypercorn_serve(app, config, shutdown_trigger=trigger)  # type: ignore[arg-type]
    if config.worker_class == "uvloop":
        uvloop.run(serving)
    else:
        asyncio.run(serving)


@cli.command("serve-process", hidden=True)
def serve_process(
    fd: Annotated[int, typer.Option(help="The listening socket, inherited")],
    config_file: Annotated[Path | None, typer.Option("--config")] = None,
) -> None:
    """One of the processes of `serve --workers N`: serves the socket it was given."""

    _logging()
    config = hypercorn_config(config_file)
    config.bind = [f"fd://{fd}"]
    config.workers = 1
    serving = False

    def started() -> None:
        nonlocal serving
        serving = True

    try:
        _serve_here(_settings(), config, started)
    except Exception:
        if serving:
            raise
        logging.getLogger(__name__).exception("this API process could not start")
        raise typer.Exit(BOOT_FAILED) from None


@cli.command()
def worker() -> None:
    """Run the sync worker (jobs from Redis); on the embedded backends of a running serve, too."""

    from graphql_api.worker import run_worker  # noqa: PLC0415 - docstring

    _logging()
    with embedded_backends(_settings()) as resolved:
        # The API's event loop: a quiet sync's round trips cost some 10% less CPU there.
        uvloop.run(run_worker(resolved))


@cli.command()
def train(
    min_user_rows: Annotated[
        int, typer.Option(help="Labelled slots a user needs for a model of their own")
    ] = 200,
    rounds: Annotated[int, typer.Option(help="Most boosting rounds of the global model")] = 400,
) -> None:
    """Train the slot ranker on everyone's history: a global model and per-user ones."""

    _logging()
    with embedded_backends(_settings()) as resolved:
        report = asyncio.run(_train(resolved, min_user_rows=min_user_rows, rounds=rounds))
    typer.echo(report)


@cli.command()
def evaluate(
    users: Annotated[int, typer.Option(help="Users of the behaviour simulator")] = 200,
    days: Annotated[int, typer.Option(help="Days of simulated history")] = 112,
    test_days: Annotated[int, typer.Option(help="The last days, held out")] = 14,
    scenario_users: Annotated[
        int, typer.Option(help="Training users and test users of each scenario")
    ] = 40,
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
) -> None:
    """Score the shipped ranker, the model, the heuristic, random order and the hidden taste,
    scenario by scenario, on simulated users (no database)."""
    from graphql_api.recommend.scenarios import evaluate as run_evaluation  # noqa: PLC0415

    result = run_evaluation(
        users, days, test_days, scenario_users=scenario_users, seed=seed, progress=typer.echo
    )
    typer.echo(result.summary())
    typer.echo(result.table())
    typer.echo(result.verdict())


@cli.command()
def token(
    sub: Annotated[str, typer.Argument(help="The user id (the token's `sub`)")] = "dev-user",
    email: Annotated[str | None, typer.Option(help="Email claim")] = None,
    days: Annotated[int, typer.Option(help="Validity in days")] = 30,
) -> None:
    """Mint a development bearer token (HS256, signed with JWT_SECRET)."""

    from graphql_api.security.dev_tokens import mint_dev_token  # noqa: PLC0415 - docstring

    settings = _settings()
    if not settings.dev_tokens_accepted:
        raise typer.BadParameter(
            "JWT_PUBLIC_KEY or JWT_JWKS_URL is set: tokens come from your identity provider"
        )
    typer.echo(mint_dev_token(settings, sub, email=email, ttl=timedelta(days=days)))


@cli.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write")] = Path(
        "schema.graphql"
    ),
) -> None:
    """Write the schema's SDL (what the code builds) to schema.graphql."""

    from graphql_api.schema import schema  # noqa: PLC0415 - docstring

    output.write_text(schema.as_str() + "\n")
    typer.echo(f"wrote {output}")


@cli.command("persisted-manifest")
def persisted_manifest(
    operations: Annotated[
        Path, typer.Option(help="The client operations, one *.graphql file each")
    ] = DEFAULT_OPERATIONS,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout)")
    ] = None,
) -> None:
    """Print a persisted-query manifest (apollo-persisted-query-manifest) of the operations
    exactly as written, for clients that send them unchanged. The packaged manifest is
    Apollo Client's (`make manifest`), with the `__typename` fields Apollo Client adds."""

    from graphql_api.persisted.manifest import build_manifest, render  # noqa: PLC0415

    manifest = build_manifest(operations)
    if output is None:
        typer.echo(render(manifest), nl=False)
        return
    output.write_text(render(manifest))
    typer.echo(f"wrote {output}: {len(manifest['operations'])} operations from {operations}")


@cli.command("seed-demo")
def seed_demo(
    sub: Annotated[str, typer.Option(help="The demo user's id")] = "demo-user",
    days: Annotated[int, typer.Option(help="Days of check-in history")] = 120,
    train: Annotated[bool, typer.Option(help="Then train the slot ranker on it")] = False,
) -> None:
    """Create a demo user with goals, habits, months of check-ins and a LOCAL calendar."""

    from graphql_api.seed import seed  # noqa: PLC0415 - docstring

    _logging()
    with embedded_backends(_settings()) as resolved:
        summary = asyncio.run(seed(resolved, sub, days))
        typer.echo(summary)
        if train:
            typer.echo(asyncio.run(_train(resolved, min_user_rows=200, rounds=400)))


async def _train(settings: Settings, *, min_user_rows: int, rounds: int) -> Report:
    """`scheduling-worker train`: with progress bars on the terminal."""
    bars: list[tqdm[Any]] = []

    def progress(what: str, total: int) -> Callable[[int], None]:
        bar = tqdm(total=total, desc=what, unit="" if what == "rounds" else " users")
        bars.append(bar)

        def step(n: int) -> None:
            bar.update(n)

        return step

    from graphql_api.lifespan import close_state, open_state  # noqa: PLC0415 - docstring
    from graphql_api.recommend.training import train as train_models  # noqa: PLC0415

    state = await open_state(settings)
    try:
        return await train_models(
            cache=state.cache, min_user_rows=min_user_rows, rounds=rounds, progress=progress
        )
    finally:
        for bar in bars:
            bar.close()
        await close_state(state)


def main() -> None:
    cli()
