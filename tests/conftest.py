"""Shared fixtures: moto in-process as AWS, resources from template.yaml, real handlers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from lxml import etree

from local.events import Mount
from local.inprocess import in_process_aws
from local.lambdas import ApiClient

SCHEMA_DIR = Path(__file__).parent / "schemata"
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
STAGE = "uws"
BASE = f"https://{HOST}/{STAGE}"
MOUNT = Mount.execute_api(HOST, STAGE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """Captured output as UTF-8 can carry it: the hostile-input tests log lone surrogates, which
    pytest-xdist cannot send from a worker (`make test` runs two)."""
    outcome = yield
    report = outcome.get_result()
    report.sections = [
        (name, text.encode("utf-8", "backslashreplace").decode("utf-8"))
        for name, text in report.sections
    ]


@pytest.fixture(scope="session")
def uws_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "UWS.xsd")))


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers["Location"]

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


class Api(ApiClient):
    """The real handlers with the events API Gateway would send, every XML answer validated."""

    def __init__(
        self,
        refs: dict[str, str],
        schema: etree.XMLSchema,
        parameters: dict[str, str] | None = None,
    ) -> None:
        super().__init__(MOUNT, parameters)
        self.refs = refs
        self.schema = schema

    def invoke(self, function: str, event: dict[str, Any]) -> Reply:
        result = self.call_function(function, event)
        return Reply(result["statusCode"], result.get("headers") or {}, result.get("body") or "")

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        function, event = self.event(method, path, **kwargs)
        reply = self.invoke(function, event)
        if reply.content_type.startswith("text/xml") and method != "HEAD" and "/async" in path:
            self.validate(reply.body)  # a UWS document (TAP's VOSI ones are taplint's to check)
        return reply

    def validate(self, document: str) -> etree._Element:
        root = etree.fromstring(document.encode())
        self.schema.assertValid(root)
        return root

    # conveniences for the common steps of a job's life

    def work(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """Deliver what is queued to the worker, as Lambda's event source mapping (batch 1)."""
        from local.pollers import deliver

        sqs = boto3.client("sqs")
        delivered = []
        for _ in range(max_messages):
            got = sqs.receive_message(QueueUrl=self.refs["JobsQueue"], MaxNumberOfMessages=1).get(
                "Messages", []
            )
            if not got:
                break
            deliver(self.functions["WorkerFunction"], self.refs["JobsQueue"], got, sqs)
            delivered.extend(got)
        return delivered

    def announce(self) -> int:
        """Deliver the job table's stream, as far as it goes, to the events function."""
        from local.events import stream_event
        from local.pollers import StreamReader

        arn = self.refs["JobsTable.StreamArn"]
        if not hasattr(self, "_stream"):
            self._stream = StreamReader(arn, start="TRIM_HORIZON")
        published = 0
        while records := self._stream.read(100):
            published += self.call_function("EventsFunction", stream_event(records, arn))[
                "published"
            ]
        return published

    def sweep(self) -> dict[str, int]:
        from local.events import scheduled_event

        return self.call_function("ReaperFunction", scheduled_event())

    def create(self, owner: str | None = None, **params: Any) -> str:
        reply = self.request("POST", "/async", data=params, owner=owner)
        assert reply.status == 303, reply.body
        assert reply.location.startswith(f"{BASE}/async/")
        return reply.location.rsplit("/", 1)[1]

    def job(self, job_id: str, owner: str | None = None, **query: Any) -> etree._Element:
        reply = self.request("GET", f"/async/{job_id}", owner=owner, query=query)
        assert reply.status == 200, reply.body
        return self.validate(reply.body)

    def item(self, job_id: str) -> dict[str, Any] | None:
        return (
            boto3.client("dynamodb")
            .get_item(
                TableName=self.refs["JobsTable"], Key={"jobId": {"S": job_id}}, ConsistentRead=True
            )
            .get("Item")
        )

    def objects(self, job_id: str) -> list[str]:
        listing = boto3.client("s3").list_objects_v2(
            Bucket=self.refs["ResultsBucket"], Prefix=f"jobs/{job_id}/"
        )
        return sorted(o["Key"] for o in listing.get("Contents", []))


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    """moto in-process with template.yaml's resources; the functions' environment set."""
    env = {"POWERTOOLS_LOG_LEVEL": "WARNING", "JOB_URL_BASE": BASE}
    with in_process_aws(env=env, enforce_iam=True) as refs:
        yield refs


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """AWS's transient errors in the functions' calls (local.faults): set ``rate``, or
    ``script`` the next calls of an operation. botocore retries them as it would AWS's,
    without its pauses (the same retries, no waiting)."""
    from botocore.retries.standard import ExponentialBackoff

    from local import faults as injected

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    injector = injected.inject(0.0)
    yield injector
    injected.inject(0.0)


@pytest.fixture
def api(aws: dict[str, str], uws_schema: etree.XMLSchema) -> Api:
    return Api(aws, uws_schema)


UWS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0", "xlink": "http://www.w3.org/1999/xlink"}


def text_of(root: etree._Element, path: str) -> str | None:
    found = root.find(path, UWS)
    return None if found is None else found.text


@pytest.fixture
def testing_type(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    """Switch the deployment to the ``testing`` job type of tests/jobtypes_for_tests.py."""
    from uws.config import settings

    monkeypatch.setenv("JOB_TYPE", "testing")
    monkeypatch.setenv("JOB_TYPE_MODULES", "uws.demo,tests.jobtypes_for_tests")
    settings.cache_clear()
    return api


@contextlib.contextmanager
def unchanged(api: Api, job_id: str) -> Iterator[None]:
    """Assert that what happens inside leaves the stored item and the job's S3 objects as they were."""
    item, objects = api.item(job_id), api.objects(job_id)
    yield
    assert api.item(job_id) == item
    assert api.objects(job_id) == objects


def set_item(api: Api, job_id: str, **values: Any) -> None:
    """Put a job into a state no request can reach quickly (the worker's or the clock's doing)."""
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    names = {f"#k{i}": k for i, k in enumerate(values)}
    vals = {f":v{i}": serialize(v) for i, v in enumerate(values.values())}
    boto3.client("dynamodb").update_item(
        TableName=api.refs["JobsTable"],
        Key={"jobId": {"S": job_id}},
        UpdateExpression="SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=vals,
    )


def queued_messages(api: Api) -> list[str]:
    sqs = boto3.client("sqs")
    bodies = []
    while True:
        got = sqs.receive_message(
            QueueUrl=api.refs["JobsQueue"], MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
        if not got:
            return bodies
        bodies.extend(m["Body"] for m in got)


@pytest.fixture(scope="session")
def hipparcos_root() -> Path:
    """The demo catalogue on disk (made once; `make serve-tap` serves the same from S3)."""
    from local.catalogue import build

    return build()


@pytest.fixture
def tap_api(hipparcos_root: Path, uws_schema: etree.XMLSchema) -> Iterator[Api]:
    """A TAP deployment (JobType tap) in-process under IAM; its catalogue read from disk (S3
    reads are DuckDB's own, over HTTP: the e2e tests run them against moto's server)."""
    from tap import service

    env = {"POWERTOOLS_LOG_LEVEL": "WARNING", "JOB_URL_BASE": BASE,
           "TAP_CATALOGUE": str(hipparcos_root)}  # fmt: skip
    parameters = {"JobType": "tap", "JobTypeModules": "tap.jobtype"}
    service.engine.cache_clear()
    with in_process_aws(env=env, enforce_iam=True, parameters=parameters) as refs:
        yield Api(refs, uws_schema, parameters)
    service.engine.cache_clear()
