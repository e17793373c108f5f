"""Any path the UWS resources do not take (/, /async/, {job}/nosuchthing …): a 404."""

from aws_lambda_powertools.logging import correlation_paths
from uws.entrypoints import logger, serve_not_found


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
def handler(event: dict, context: object) -> dict:
    return serve_not_found(event)
