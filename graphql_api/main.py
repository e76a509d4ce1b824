"""The ASGI entry point: `hypercorn graphql_api.main:app`."""

from graphql_api.app import create_app

app = create_app()
