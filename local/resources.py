"""Create template.yaml's tables (and their streams), buckets, queues and the container
runner (the tasks' subnets and security group, the cluster, the task definition, the layer it
loads) in moto (in-process or moto's server).

The resource definitions are read from the template, never repeated here; only the
translation from CloudFormation properties to API calls lives in this module.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from functools import cache
from typing import Any

import boto3

from .template import ROOT, conditions, parameter_defaults, resolve, resources_of_type

ACCOUNT = "123456789012"

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


def _client(service: str, region: str) -> Any:
    """A client per service, region, endpoint and keys, kept: creating one takes ~0.1 s, and
    the tests make their resources anew for each test. moto's EC2 is told not to load its
    thousands of sample images (half a second per new account)."""
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    keys = tuple(os.environ.get(n, "") for n in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID"))
    return _cached_client(service, region, keys)


@cache
def _cached_client(service: str, region: str, keys: tuple[str, ...]) -> Any:
    return boto3.client(service, region_name=region)


def create_all(
    template: dict[str, Any], prefix: str = "uws", region: str = "us-east-1",
    parameters: dict[str, str] | None = None,
) -> dict[str, str]:  # fmt: skip
    """Create every table, bucket and queue (``parameters`` override the template's
    defaults); return the values of Ref and GetAtt: the parameters and the resources."""
    refs = {**parameter_defaults(template), **(parameters or {})}
    refs.update({"AWS::Region": region, "AWS::AccountId": ACCOUNT, "AWS::StackName": prefix})
    dynamodb = _client("dynamodb", region)
    for name, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        table = f"{prefix}-{name}"
        props = resource["Properties"]
        settings = {k: props[k] for k in _TABLE_KEYS if k in props}
        if "StreamSpecification" in props:  # CloudFormation's form lacks the API's flag
            settings["StreamSpecification"] = {
                "StreamEnabled": True,
                **props["StreamSpecification"],
            }
        created = dynamodb.create_table(TableName=table, **settings)["TableDescription"]
        refs[name] = table
        refs[f"{name}.Arn"] = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
        if "LatestStreamArn" in created:
            refs[f"{name}.StreamArn"] = created["LatestStreamArn"]
    s3 = _client("s3", region)
    for name, _resource in resources_of_type(template, "AWS::S3::Bucket").items():
        bucket = f"{prefix}-{name}".lower()
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
        refs[name] = bucket
        refs[f"{name}.Arn"] = f"arn:aws:s3:::{bucket}"
    sqs = _client("sqs", region)
    queues = resources_of_type(template, "AWS::SQS::Queue")
    for name in queues:  # create all first: a redrive policy names another queue's ARN
        url = sqs.create_queue(QueueName=f"{prefix}-{name}")["QueueUrl"]
        refs[name] = url
        refs[f"{name}.QueueName"] = f"{prefix}-{name}"
        refs[f"{name}.Arn"] = f"arn:aws:sqs:{region}:{ACCOUNT}:{prefix}-{name}"
    for name, resource in queues.items():
        props = resolve(resource.get("Properties", {}), refs)
        attributes = {
            k: json.dumps(v) if isinstance(v, dict) else str(v)
            for k, v in props.items()
            if k in ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")
        }
        if attributes:
            sqs.set_queue_attributes(QueueUrl=refs[name], Attributes=attributes)
    _create_container_runner(template, prefix, region, refs)
    return refs


def function_environment(
    env: dict[str, Any], refs: dict[str, str], template: dict[str, Any] | None = None
) -> dict[str, str]:
    when = conditions(template, refs) if template is not None else None
    return {k: str(v) for k, v in resolve(env, refs, when).items()}


def _create_container_runner(
    template: dict[str, Any], prefix: str, region: str, refs: dict[str, str]
) -> None:
    """The layer (published as SAM would), the tasks' network when the template makes its
    own (the subnets and security group RunTask names; routes and endpoints only carry
    traffic, which here stays on this machine), the ECS cluster and the task definition."""
    when = conditions(template, refs)
    for name, package in LAYER_PACKAGES.items():  # what a container task loads (uws.task)
        layer = template["Resources"][name]
        if when.get(layer.get("Condition", ""), True):
            layer_name = resolve(layer["Properties"]["LayerName"], refs)
            refs[name] = publish_layer(prefix, region, layer_name, package)
    ec2 = _client("ec2", region)
    for name, resource in resources_of_type(template, "AWS::EC2::VPC").items():
        if when.get(resource.get("Condition", ""), True):
            vpc = ec2.create_vpc(CidrBlock=resource["Properties"]["CidrBlock"])["Vpc"]["VpcId"]
            # ENIs get DNS names, which moto's ECS reads (moto fails without them)
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
            refs[name] = vpc
    for name, resource in resources_of_type(template, "AWS::EC2::Subnet").items():
        if when.get(resource.get("Condition", ""), True):
            props = resolve(resource["Properties"], refs, when)
            subnet = ec2.create_subnet(
                VpcId=props["VpcId"], CidrBlock=props["CidrBlock"],
                AvailabilityZone=props["AvailabilityZone"],
            )  # fmt: skip
            refs[name] = subnet["Subnet"]["SubnetId"]
    for name, resource in resources_of_type(template, "AWS::EC2::SecurityGroup").items():
        if when.get(resource.get("Condition", ""), True):
            props = resolve(resource["Properties"], refs, when)
            refs[name] = ec2.create_security_group(
                GroupName=f"{prefix}-{name}", Description=props["GroupDescription"],
                VpcId=props["VpcId"],
            )["GroupId"]  # fmt: skip
    for name in resources_of_type(template, "AWS::IAM::Role"):
        refs[f"{name}.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/{prefix}-{name}"
    for name in resources_of_type(template, "AWS::Logs::LogGroup"):
        refs[name] = f"/{prefix}/{name}"
        refs[f"{name}.Arn"] = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/{prefix}/{name}:*"
    ecs = _client("ecs", region)
    for name, resource in resources_of_type(template, "AWS::ECS::Cluster").items():
        props = resource.get("Properties", {})
        cluster = ecs.create_cluster(
            clusterName=f"{prefix}-{name}", capacityProviders=props.get("CapacityProviders", [])
        )["cluster"]
        refs[name], refs[f"{name}.Arn"] = cluster["clusterName"], cluster["clusterArn"]
    for name, resource in resources_of_type(template, "AWS::ECS::TaskDefinition").items():
        definition = _api_names(resolve(resource["Properties"], refs, when))
        refs[name] = ecs.register_task_definition(**definition)["taskDefinition"][
            "taskDefinitionArn"
        ]


def _api_names(value: Any) -> Any:
    """CloudFormation's property names (PascalCase) as the ECS API's (camelCase); a log
    driver's options are names of its own, kept as they are."""
    if isinstance(value, list):
        return [_api_names(v) for v in value]
    if not isinstance(value, dict):
        return value
    named = {k[0].lower() + k[1:]: v if k == "Options" else _api_names(v) for k, v in value.items()}
    if "sizeInGiB" in named:  # a Number parameter, which refs hold as text
        named["sizeInGiB"] = int(named["sizeInGiB"])
    return named


LAYER_BUCKET = "uws-local-layers"  # where the layer's zip goes, as SAM's artifacts bucket
# Each layer a container task loads, and our package in it (the engine layer holds DuckDB and
# sqlglot alone, which a local task's process finds in the venv).
LAYER_PACKAGES = {"UwsLayer": "uws/uws", "TapLayer": "tap/tap", "TapEngineLayer": None}


def publish_layer(prefix: str, region: str, name: str, package: str | None) -> str:
    """Publish ``package`` (under layers/) as a new version of the layer ``name``; its ARN.
    Here a layer holds our package only: a task's process finds the packages the layer would
    bring in the venv."""
    s3 = _client("s3", region)
    s3.create_bucket(Bucket=LAYER_BUCKET)
    key = f"{prefix}/{name}.zip"
    s3.put_object(Bucket=LAYER_BUCKET, Key=key, Body=_layer_zip(package))
    published = _client("lambda", region).publish_layer_version(
        LayerName=name, Content={"S3Bucket": LAYER_BUCKET, "S3Key": key},
        CompatibleRuntimes=["python3.12"],
    )  # fmt: skip
    return str(published["LayerVersionArn"])


@cache
def _layer_zip(package: str | None) -> bytes:
    """layers/``package`` (``uws/uws``) as a layer zip lays it out (python/uws/…), made once
    per process; None: an empty zip."""
    buffer = io.BytesIO()
    files = [] if package is None else sorted((ROOT / "layers" / package).rglob("*"))
    source = (ROOT / "layers" / str(package)).parent
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, f"python/{path.relative_to(source)}")
    return buffer.getvalue()
