"""{job}/startTime: GET when execution started (NULL before)."""

from aws_lambda_powertools.logging import correlation_paths
from uws.entrypoints import logger, serve_job_action


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
def handler(event: dict, context: object) -> dict:
    return serve_job_action("startTime", event)
