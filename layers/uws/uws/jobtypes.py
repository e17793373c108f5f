"""Job types: what a deployment runs, and the parameters each one declares.

A job type is a name, its declared parameters, and (for the worker) a callable. Creation and
parameter POSTs are checked against the declaration, so a job never holds a parameter its type
does not understand. The deployment picks its type with the ``JOB_TYPE`` setting; modules that
register further types are named in ``JOB_TYPE_MODULES`` (comma-separated) and imported on
first use.
"""

from __future__ import annotations

import importlib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import BadRequest, PayloadTooLarge, shown
from .job import has_non_xml

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

TYPES = ("string", "text", "integer", "float", "boolean", "file")  # text: a string of lines


@dataclass(frozen=True)
class Parameter:
    """One declared parameter. Names are matched case-insensitively and shown as declared."""

    name: str
    type: str = "string"
    required: bool = False
    multiple: bool = False
    default: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 65536
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or self.type not in TYPES:
            raise ValueError(f"bad parameter declaration: {self!r}")

    def check(self, values: list[str]) -> list[str]:
        """Return ``values`` unchanged if they are acceptable, else raise a 400 or 413."""
        if len(values) > 1 and not self.multiple:
            raise BadRequest(
                f"Parameter {self.name} takes a single value but was given {len(values)}."
            )
        for value in values:
            self._check_one(value)
        return values

    def _check_one(self, value: str) -> None:
        if len(value) > self.max_length:
            raise PayloadTooLarge(
                f"Parameter {self.name} is longer than its limit of {self.max_length} characters."
            )
        check_xml_text(self.name, value)
        if self.type in ("integer", "float"):
            number = _number(value, integer=self.type == "integer")
            if number is None:
                kind = "an integer" if self.type == "integer" else "a number"
                raise BadRequest(f"Parameter {self.name} must be {kind}, not {shown(value)}.")
            if self.minimum is not None and number < self.minimum:
                raise BadRequest(f"Parameter {self.name} must be at least {self.minimum:g}.")
            if self.maximum is not None and number > self.maximum:
                raise BadRequest(f"Parameter {self.name} must be at most {self.maximum:g}.")
        elif self.type == "boolean" and value.lower() not in ("true", "false", "1", "0"):
            raise BadRequest(f"Parameter {self.name} must be true or false, not {shown(value)}.")


def check_xml_text(name: str, value: str) -> None:
    """Reject what XML 1.0 cannot carry: every value we keep is shown in a UWS document."""
    if has_non_xml(value):
        raise BadRequest(f"Parameter {name} contains control characters XML cannot carry.")


def _number(text: str, integer: bool) -> float | None:
    try:
        number = int(text) if integer else float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class JobType:
    """A kind of job: its declared parameters and the callable the worker runs."""

    name: str
    parameters: tuple[Parameter, ...]
    run: Callable[[Any], None] | None = None  # given a worker context; see uws.worker
    description: str = ""
    # Every job of this type runs in a container task (more memory, disk or time than the
    # Lambda worker has), whatever its execution duration; see uws.containers.
    container: bool = False
    # Asked by the worker of a queued job before it runs it (the job's parameters and uploads
    # through the JobContext it is given; no progress or results): jobInfo entries saying
    # why this one needs a container task (more memory, disk or time than the Lambda worker
    # has), or None to run it on the worker. The worker then hands it to the container runner
    # (uws.worker); TAP's full scans of big tables go so (tap.jobtype).
    needs_container: Callable[[Any], Mapping[str, str] | None] | None = None
    # Files may come in form fields of any name (a parameter names them: TAP's UPLOAD points
    # at "param:<field>"), not only for declared ``file`` parameters.
    files_by_any_name: bool = False
    # Parameters it does not declare are kept as strings, not refused (DALI 1.1, 3: a service
    # ignores the parameters it does not know; TAP clients send VERSION, DUMMY …).
    keeps_unknown_parameters: bool = False
    # The job's error as the protocol wants it at {job}/error (TAP: a VOTable), given the
    # errorSummary's message: (body, media type). None: the message as text/plain.
    error_document: Callable[[str], tuple[str, str]] | None = None

    _unknown: dict[str, Parameter] = field(default_factory=dict, compare=False, repr=False)

    def parameter(self, name: str) -> Parameter | None:
        wanted = name.upper()
        return next((p for p in self.parameters if p.name.upper() == wanted), None)

    def validate(self, pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        """Group (name, value) pairs by declared name and check them; unknown names are a 400.
        An empty value counts as not given: an HTML form sends every field, filled or not."""
        grouped: dict[str, list[str]] = {}
        declared: dict[str, Parameter] = {}
        for name, value in pairs:
            parameter = self.parameter(name)
            if parameter is None and self.keeps_unknown_parameters and _NAME.fullmatch(name):
                parameter = self._unknown.setdefault(name.upper(), Parameter(name.upper()))
            if parameter is None:
                known = ", ".join(p.name for p in self.parameters) or "none"
                raise BadRequest(
                    f"Unknown parameter {shown(name)} for job type {self.name} (known: {known})."
                )
            if value == "":
                continue
            declared[parameter.name] = parameter
            grouped.setdefault(parameter.name, []).append(value)
        return {name: declared[name].check(values) for name, values in grouped.items()}

    def missing(self, parameters: dict[str, list[str]]) -> list[str]:
        """Required parameters without a value: a RUN with these missing is a 400."""
        return [p.name for p in self.parameters if p.required and not parameters.get(p.name)]


_REGISTRY: dict[str, JobType] = {}


def register(job_type: JobType) -> JobType:
    _REGISTRY[job_type.name] = job_type
    return job_type


def job_type(name: str) -> JobType:
    """The registered job type ``name``, importing the modules that register types if needed."""
    if name not in _REGISTRY:
        modules = os.environ.get("JOB_TYPE_MODULES", "uws.demo")
        for module in filter(None, (m.strip() for m in modules.split(","))):
            importlib.import_module(module)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"no job type {name!r} is registered; check JOB_TYPE_MODULES") from None
