"""The worker: runs the job named in each SQS message (batch size 1, partial batch responses)."""

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from uws.entrypoints import logger, run_queued_job

processor = BatchProcessor(event_type=EventType.SQS)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    return process_partial_response(event, run_queued_job, processor, context)
