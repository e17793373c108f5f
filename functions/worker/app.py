"""The worker: runs the job named in each SQS message (batch size 1, partial batch responses)."""

from uws.entrypoints import logger, run_queued_jobs


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    return run_queued_jobs(event, context)
