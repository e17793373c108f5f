"""The UWS documents as JSON, for portals and scripts (docs/uws.md, JSON): the UWS schema's
element and attribute names as keys, the same facts as the XML documents in uws.web.xml. A value
the XML leaves nil (or out) is null here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..isodt import formatISODT
from ..job import Job, JobRef
from .links import Links

MIME = "application/json"


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def job_json(job: Job, links: Links) -> dict[str, Any]:
    summary = job.error_summary
    return {
        "jobId": job.job_id,
        "runId": job.run_id,
        "ownerId": job.owner,
        "phase": str(job.phase),
        "quote": formatISODT(job.quote),
        "creationTime": formatISODT(job.creation_time),
        "startTime": formatISODT(job.start_time),
        "endTime": formatISODT(job.end_time),
        "executionDuration": job.execution_duration,
        "destruction": formatISODT(job.destruction),
        **parameters_json(job, links),
        **results_json(job, links),
        "errorSummary": None
        if summary is None
        else {"type": summary.type, "hasDetail": summary.has_detail, "message": summary.message},
        "jobInfo": dict(sorted(job.job_info.items())),
    }


def jobs_json(refs: Iterable[JobRef], links: Links) -> dict[str, Any]:
    return {
        "jobs": [
            {
                "jobId": ref.job_id,
                "href": links.job(ref.job_id),
                "phase": str(ref.phase),
                "runId": ref.run_id,
                "ownerId": ref.owner,
                "creationTime": formatISODT(ref.creation_time),
            }
            for ref in refs
        ]
    }


def parameters_json(job: Job, links: Links) -> dict[str, Any]:
    """Each value of each parameter in order; a file's value is the URL that serves it."""
    parameters: list[dict[str, Any]] = []
    for name, values in job.parameters.items():
        if name in job.uploads:
            href = links.parameter(job.job_id, name)
            parameters.append({"id": name, "byReference": True, "value": href})
            continue
        parameters += [{"id": name, "byReference": False, "value": value} for value in values]
    return {"parameters": parameters}


def results_json(job: Job, links: Links) -> dict[str, Any]:
    return {
        "results": [
            {"id": r.id, "href": links.result(job.job_id, r.id), "mime-type": r.mime_type,
             "size": r.size}
            for r in job.results
        ]
    }  # fmt: skip
