"""docs/openapi.yaml against what it describes: template.yaml's routes, the resources' methods,
the demo job type's parameters. schemathesis holds the live service to it (tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate
from uws.demo import DEMO
from uws.entrypoints import JOB_ACTIONS
from uws.web.joblist import JobList

from local.gateway import API_GATEWAY_METHODS
from local.template import conditions, load, parameter_defaults, routes

DESCRIPTION = Path(__file__).parents[2] / "docs" / "openapi.yaml"
TEMPLATE = load()
# The default deployment's routes (the demo job type): a TAP deployment's own resources are
# docs/tap.md's, and reach NotFoundFunction's 404 here like any path no resource takes.
ROUTES = routes(TEMPLATE, conditions(TEMPLATE, parameter_defaults(TEMPLATE)))
OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
JOB = "/async/{jobId}"


@pytest.fixture(scope="module")
def description() -> dict:
    return yaml.safe_load(DESCRIPTION.read_text())


def described_methods(path_item: dict) -> set[str]:
    return {key.upper() for key in path_item if key in OPERATIONS}


def test_it_is_valid_openapi_3_1(description):
    validate(description)
    assert description["openapi"].startswith("3.1")


def test_it_describes_exactly_the_templates_routes(description):
    routed = {route.path for route in ROUTES}
    assert set(description["paths"]) == routed


@pytest.mark.parametrize("route", sorted({r.path for r in ROUTES}))
def test_each_route_has_exactly_the_methods_its_resource_answers(description, route):
    """HEAD goes unlisted (it answers as GET); the catch-all answers every method API
    Gateway routes with a 404."""
    if route == "/async":
        answered = set(JobList.allowed())
    elif route.startswith(JOB):
        answered = set(JOB_ACTIONS.actions[route.removeprefix(JOB).lstrip("/")].allowed())
    else:
        answered = API_GATEWAY_METHODS - {"HEAD"}
    assert described_methods(description["paths"][route]) == answered


def test_every_operation_names_its_statuses_and_an_id(description):
    ids = []
    for path, item in description["paths"].items():
        for method in described_methods(item):
            operation = item[method.lower()]
            ids.append(operation["operationId"])
            statuses = set(operation["responses"])
            if path.startswith("/async"):
                assert {"401", "403", "503"} <= statuses, (path, method)
            if path.startswith(JOB):
                assert "404" in statuses, (path, method)
            if method == "POST" and path.startswith("/async"):
                assert {"303", "400", "413", "415"} <= statuses, (path, method)
    assert len(ids) == len(set(ids))


def test_the_job_parameters_are_the_demo_types(description):
    schema = description["components"]["schemas"]["DemoParameters"]["properties"]
    assert set(schema) == {p.name for p in DEMO.parameters}
    for parameter in DEMO.parameters:
        described = schema[parameter.name]
        assert described["description"] == parameter.description
        kind = {"float": "number", "integer": "integer"}.get(parameter.type)
        if kind:
            assert described["type"] == kind
            assert described["minimum"] == parameter.minimum
            assert described["maximum"] == parameter.maximum
        else:
            assert described["maxLength"] == parameter.max_length


def test_the_json_documents_carry_the_uws_schemas_names(description):
    """docs/uws.md, JSON: the job's keys are the UWS schema's element names."""
    job = description["components"]["schemas"]["Job"]
    assert job["required"] == [
        "jobId", "runId", "ownerId", "phase", "quote", "creationTime", "startTime", "endTime",
        "executionDuration", "destruction", "parameters", "results", "errorSummary", "jobInfo",
    ]  # fmt: skip
