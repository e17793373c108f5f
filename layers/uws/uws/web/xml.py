"""UWS 1.1 documents (job, jobs, parameters, results) built with lxml.

Elements come in the schema's order, absent nillable values are ``xsi:nil="true"``, times are
formatted by :func:`uws.isodt.formatISODT`, and every href is absolute (built by ``Links``).
The tests validate every document against the UWS 1.1 schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..isodt import formatISODT
from ..job import Job, JobRef, xml_safe
from .links import Links

if TYPE_CHECKING:
    from lxml import etree


def _etree() -> Any:
    """lxml, imported on the first document: the text-only resources never pay its import."""
    from lxml import etree

    return etree


UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"uws": UWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
MIME = "text/xml; charset=utf-8"

_HREF = f"{{{XLINK_NS}}}href"
_NIL = f"{{{XSI_NS}}}nil"


def _el(parent: etree._Element | None, tag: str, text: str | None = None, **attrs: str):
    qname = f"{{{UWS_NS}}}{tag}"
    lxml = _etree()
    element = lxml.Element(qname, nsmap=NSMAP) if parent is None else lxml.SubElement(parent, qname)
    try:
        for name, value in attrs.items():
            element.set(name, value)
        if text is not None:
            element.text = text
    except ValueError:  # lxml refuses what XML cannot carry (UnicodeError is one): show it
        for name, value in attrs.items():
            element.set(name, xml_safe(value))
        if text is not None:
            element.text = xml_safe(text)
    return element


def _nillable(parent: etree._Element, tag: str, text: str | None) -> None:
    element = _el(parent, tag, text)
    if text is None:
        element.set(_NIL, "true")


def _serialize(root: etree._Element) -> bytes:
    return _etree().tostring(root, xml_declaration=True, encoding="UTF-8")


def job_document(job: Job, links: Links) -> bytes:
    root = _el(None, "job", version="1.1")
    _el(root, "jobId", job.job_id)
    if job.run_id is not None:
        _el(root, "runId", job.run_id)
    _nillable(root, "ownerId", job.owner)
    _el(root, "phase", str(job.phase))
    _nillable(root, "quote", formatISODT(job.quote))
    _el(root, "creationTime", formatISODT(job.creation_time))
    _nillable(root, "startTime", formatISODT(job.start_time))
    _nillable(root, "endTime", formatISODT(job.end_time))
    _el(root, "executionDuration", str(job.execution_duration))
    _nillable(root, "destruction", formatISODT(job.destruction))
    _add_parameters(root, job, links)
    _add_results(root, job, links)
    if job.error_summary is not None:
        summary = job.error_summary
        element = _el(
            root,
            "errorSummary",
            type=summary.type,
            hasDetail="true" if summary.has_detail else "false",
        )
        _el(element, "message", summary.message)
    if job.job_info:
        info = _el(root, "jobInfo")
        for key, value in sorted(job.job_info.items()):
            _el(info, "info", value, id=key)
    return _serialize(root)


def jobs_document(refs: Iterable[JobRef], links: Links) -> bytes:
    root = _el(None, "jobs", version="1.1")
    for ref in refs:
        element = _el(root, "jobref", id=ref.job_id)
        element.set(_HREF, links.job(ref.job_id))
        _el(element, "phase", str(ref.phase))
        if ref.run_id is not None:
            _el(element, "runId", ref.run_id)
        _nillable(element, "ownerId", ref.owner)
        _el(element, "creationTime", formatISODT(ref.creation_time))
    return _serialize(root)


def parameters_document(job: Job, links: Links) -> bytes:
    root = _el(None, "parameters")
    _fill_parameters(root, job, links)
    return _serialize(root)


def results_document(job: Job, links: Links) -> bytes:
    root = _el(None, "results")
    _fill_results(root, job, links)
    return _serialize(root)


def _add_parameters(parent: etree._Element, job: Job, links: Links) -> None:
    _fill_parameters(_el(parent, "parameters"), job, links)


def _add_results(parent: etree._Element, job: Job, links: Links) -> None:
    _fill_results(_el(parent, "results"), job, links)


def _fill_parameters(element: etree._Element, job: Job, links: Links) -> None:
    for name, values in job.parameters.items():
        if name in job.uploads:
            _el(
                element, "parameter", links.parameter(job.job_id, name), id=name, byReference="true"
            )
            continue
        for value in values:
            _el(element, "parameter", value, id=name)


def _fill_results(element: etree._Element, job: Job, links: Links) -> None:
    for result in job.results:
        child = _el(element, "result", id=result.id, size=str(result.size))
        child.set(_HREF, links.result(job.job_id, result.id))
        child.set("mime-type", result.mime_type)
