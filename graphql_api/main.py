"""The ASGI entry point: `hypercorn graphql_api.main:app`."""

from graphql_api.app import create_app
from graphql_api.observability.logs import configure_logging
from graphql_api.settings import get_settings

configure_logging(get_settings())
app = create_app()
