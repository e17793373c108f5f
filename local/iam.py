"""Each function under its own role, as on Lambda, with moto enforcing IAM.

The roles are what SAM's transform makes of template.yaml (the transform runs offline), with
their intrinsics resolved against the embedded AWS's resources. A function invoked by
local.lambdas signs its AWS calls with the credentials of its role; the tests, the runtime's
event sources and `make invoke`'s setup sign as a harness user that may do anything. Once the
roles exist, moto checks every request against the caller's policies, as IAM would.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from typing import Any

import boto3
from botocore.credentials import Credentials

from .template import ROOT, conditions, resolve

HARNESS_USER = "uws-local-harness"
_EC2_ID = re.compile(r"(vpc|subnet|sg)-[0-9a-f]+$")


def trust(harness_arn: str) -> str:
    """Lambda may assume a function's role; here the harness does it in Lambda's stead."""
    principal = {"Service": "lambda.amazonaws.com", "AWS": harness_arn}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def cached_role_policies(refs: dict[str, str]) -> dict[str, list[dict]]:
    """:func:`role_policies` of template.yaml, once per set of resource names (the tests
    make the same resources again and again; SAM's transform takes a while). A stream's ARN
    carries its creation time, and the tasks' subnets and security group have random ids; no
    policy names them (SAM grants stream reads by a managed policy), so they are not part of
    the key."""
    kept = {k: v for k, v in refs.items() if ".Stream" not in k and not _EC2_ID.match(v)}
    return _role_policies(tuple(sorted(kept.items())))


@functools.cache
def _role_policies(refs: tuple[tuple[str, str], ...]) -> dict[str, list[dict]]:
    return role_policies(sam_template(), dict(refs))


def role_policies(template: dict[str, Any], refs: dict[str, str]) -> dict[str, list[dict]]:
    """{function: its role's policy documents}, from SAM's transform, intrinsics resolved;
    and {task role: its policy documents} for each ECS task definition's task role.

    ``template`` is the file's text parsed by SAM's own reader (the transform wants its
    intrinsic forms); AWS-managed policies (logs, X-Ray) are left out: they grant nothing the
    embedded AWS serves.
    """
    from .check_transform import transformed

    parameters = {k: v for k, v in refs.items() if k in template.get("Parameters", {})}
    whole = transformed(template, parameters.get("AuthMode", "anonymous"), parameters)
    resources = whole["Resources"]
    values = {"AWS::Partition": "aws", **refs}
    for name, resource in resources.items():  # SAM names a layer's version with a hash
        if resource["Type"] == "AWS::Lambda::LayerVersion":
            published = (v for k, v in refs.items() if name.startswith(k) and k != name)
            values[name] = next(published, f"arn:aws:lambda:us-east-1:123456789012:layer:{name}:1")
    when = conditions(whole, values)  # statements only a JobType or a parameter brings
    found = {}
    for name, resource in resources.items():
        if resource["Type"] == "AWS::ECS::TaskDefinition":  # a container job's task role
            role = resource["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
            policies = resources[role]["Properties"].get("Policies", [])
            found[role] = [
                {"Version": "2012-10-17", **resolve(p["PolicyDocument"], values, when)}
                for p in policies
            ]
            continue
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = resources[role]["Properties"].get("Policies", [])
        # SAM's policy templates leave out the Version IAM requires
        found[name] = [
            {"Version": "2012-10-17", **resolve(p["PolicyDocument"], values, when)}
            for p in policies
        ]
    return found


def sam_template(text: str | None = None) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(text if text is not None else (ROOT / "template.yaml").read_text())


class FunctionRoles:
    """Creates the harness user and the functions' roles in moto's IAM; hands out each
    function's credentials (assumed once, on first use)."""

    def __init__(self, policies: dict[str, list[dict]], prefix: str = "uws") -> None:
        self.policies = policies
        self.prefix = prefix
        self.harness: dict[str, str] = {}
        self.harness_arn = ""
        self._credentials: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def create(self) -> dict[str, str]:
        """Make the harness user (before IAM is enforced); its keys. The roles are made when
        a function first runs."""
        iam = _pooled_client("<setup>", "iam", {}, None)
        self.harness_arn = iam.create_user(UserName=HARNESS_USER)["User"]["Arn"]
        everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        iam.put_user_policy(
            UserName=HARNESS_USER,
            PolicyName="everything",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
        )
        key = iam.create_access_key(UserName=HARNESS_USER)["AccessKey"]
        self.harness = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        return self.harness

    def _as_harness(self, service: str) -> Any:
        keys = {"aws_access_key_id": self.harness["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": self.harness["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip
        return _pooled_client("<harness>", service, keys, None)

    def credentials(self, function: str) -> dict[str, str]:
        """What Lambda puts in the function's environment: its role's temporary keys (the
        role made on first use; threads invoking at once wait for it)."""
        with self._lock:
            if function not in self._credentials:
                self._credentials[function] = self._assume(function)
            return self._credentials[function]

    def _assume(self, function: str) -> dict[str, str]:
        iam = self._as_harness("iam")
        role = f"{self.prefix}-{function}"
        try:
            made = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(self.harness_arn))
        except iam.exceptions.EntityAlreadyExistsException:  # `make invoke` beside `make serve`
            arn = iam.get_role(RoleName=role)["Role"]["Arn"]
        else:
            arn = made["Role"]["Arn"]
            for number, document in enumerate(self.policies[function]):
                iam.put_role_policy(
                    RoleName=role, PolicyName=f"policy{number}", PolicyDocument=json.dumps(document)
                )
        assumed = self._as_harness("sts").assume_role(RoleArn=arn, RoleSessionName=function[:64])[
            "Credentials"
        ]
        return {
            "aws_access_key_id": assumed["AccessKeyId"],
            "aws_secret_access_key": assumed["SecretAccessKey"],
            "aws_session_token": assumed["SessionToken"],
        }


def sign_as_functions(roles: FunctionRoles) -> None:
    """Make the layer's clients sign as the role of the function being invoked (Lambda gives
    each function its own credentials; here the functions share one process)."""
    from uws import aws

    from .lambdas import acting_function

    lock = threading.Lock()

    @functools.cache
    def client_for(function: str | None, service: str) -> Any:
        if function:
            keys = roles.credentials(function)
        else:
            keys = {"aws_access_key_id": roles.harness["AWS_ACCESS_KEY_ID"],
                    "aws_secret_access_key": roles.harness["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip
        return _pooled_client(function, service, keys, aws._CONFIG)

    def client(service: str) -> Any:
        with lock:  # boto3's client creation is not thread-safe, and the cache must hold one
            return client_for(acting_function(), service)

    def every(service: str) -> list[Any]:
        with lock:
            return [client_for(f, service) for f in (None, *roles.policies)]

    client.cache_clear = client_for.cache_clear  # type: ignore[attr-defined]
    client.unsigned = aws.client  # type: ignore[attr-defined]
    client.every = every  # type: ignore[attr-defined]
    aws.client = client  # type: ignore[assignment]


_POOL: dict[tuple[str | None, str, str], Any] = {}


def _pooled_client(function: str | None, service: str, keys: dict[str, str], config: Any) -> Any:
    """A boto3 client signing with ``keys``. Creating one costs tens of milliseconds and every
    test makes its deployment anew, so one client per function, service and endpoint lives
    for the process and takes each deployment's keys (botocore reads them when it signs)."""
    endpoint = " ".join(os.environ.get(n, "") for n in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"))
    client = _POOL.get((function, service, endpoint))
    if client is None:
        client = boto3.client(service, config=config, **keys)
        _POOL[(function, service, endpoint)] = client
    elif keys:
        client._request_signer._credentials = Credentials(
            keys["aws_access_key_id"], keys["aws_secret_access_key"], keys.get("aws_session_token")
        )
    else:  # the environment's keys, as boto3 would read them now
        client._request_signer._credentials = Credentials(
            os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_SESSION_TOKEN"),
        )  # fmt: skip
    return client


def every_layer_client(service: str) -> list[Any]:
    """Every client the layer may use for ``service``: one per function when each signs as
    its role, else the one (tests count calls on them)."""
    from uws import aws

    every = getattr(aws.client, "every", None)
    return every(service) if every else [aws.client(service)]


def sign_as_one() -> None:
    """Undo :func:`sign_as_functions`: the layer's clients use the environment's keys."""
    from uws import aws

    aws.client = getattr(aws.client, "unsigned", aws.client)
    aws.client.cache_clear()


def use_keys(keys: dict[str, str]) -> None:
    """Sign the process's own boto3 calls with ``keys`` (a long-lived pair: no token)."""
    os.environ.update(keys)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    boto3.DEFAULT_SESSION = None  # it would keep the keys it read first


def enforce() -> None:
    """From now on moto checks every request against the caller's IAM policies."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0


def relax() -> None:
    from moto import settings

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
