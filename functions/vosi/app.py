"""TAP's VOSI and DALI resources: /capabilities, /availability, /tables, /examples."""

from aws_lambda_powertools.logging import correlation_paths
from tap.entrypoints import serve_vosi
from uws.entrypoints import logger


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
def handler(event: dict, context: object) -> dict:
    return serve_vosi(event)
