"""The reaper: on a schedule, destroys expired jobs and ends overdue ones."""

from uws.entrypoints import logger, sweep_jobs


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    return sweep_jobs()
