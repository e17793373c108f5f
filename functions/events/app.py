"""The job table's stream: phase changes, creations and removals as EventBridge events."""

from uws.entrypoints import announce_phase_changes, logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    return announce_phase_changes(event)
