"""template.yaml's resources in moto in-process (``mock_aws``), for tests and benchmarks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import boto3

from . import iam, resources
from .moto_fixes import apply_all
from .template import load


@contextmanager
def in_process_aws(
    env: dict[str, str] | None = None, enforce_iam: bool = False,
    parameters: dict[str, str] | None = None,
) -> Iterator[dict[str, str]]:  # fmt: skip
    """Yield the resources' Ref/GetAtt values with the functions' environment set in
    os.environ (restored afterwards) and the layer's cached clients and settings reset.

    ``enforce_iam``: each function signs as its own role and moto enforces IAM (local.iam);
    os.environ then holds the keys of a harness user that may do anything. ``parameters``
    override the template's, as ``sam deploy --parameter-overrides`` would.
    """
    from moto import mock_aws
    from uws import aws
    from uws.config import settings

    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]  # mock_aws ignores calls when AWS_ENDPOINT_URL is set
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_LOG_LEVEL="WARNING",
        POWERTOOLS_METRICS_NAMESPACE="UWS",
    )  # fmt: skip
    apply_all()
    try:
        with mock_aws():
            template = load()
            refs = resources.create_all(template, parameters=parameters)
            variables = template["Globals"]["Function"]["Environment"]["Variables"]
            os.environ.update(resources.function_environment(variables, refs, template))
            os.environ.update(env or {})
            if enforce_iam:
                roles = iam.FunctionRoles(iam.cached_role_policies(refs))
                iam.use_keys(roles.create())
                iam.sign_as_functions(roles)
                iam.enforce()
            settings.cache_clear()
            aws.reset()
            yield refs
    finally:
        iam.relax()
        iam.sign_as_one()
        boto3.DEFAULT_SESSION = None
        os.environ.clear()
        os.environ.update(saved)
        settings.cache_clear()
        aws.reset()
