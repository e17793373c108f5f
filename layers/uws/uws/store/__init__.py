"""The job store: the only caller of the job table, and the only module that knows its words.

:class:`JobStore` offers reads and the named transitions of a job's life; :mod:`.items`
turns job records into items and back.
"""

from .items import item_from_job, stamp, stream_image, unstamp
from .jobstore import JobStore, QuotaReached, StateConflict

__all__ = [
    "JobStore", "QuotaReached", "StateConflict", "item_from_job", "stamp", "stream_image",
    "unstamp",
]  # fmt: skip
