"""Create template.yaml's table (and its stream), bucket and queues in moto (in-process or
moto's server).

The resource definitions are read from the template, never repeated here; only the
translation from CloudFormation properties to API calls lives in this module.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from .template import parameter_defaults, resolve, resources_of_type

ACCOUNT = "123456789012"

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


def create_all(
    template: dict[str, Any], prefix: str = "uws", region: str = "us-east-1",
    parameters: dict[str, str] | None = None,
) -> dict[str, str]:  # fmt: skip
    """Create every table, bucket and queue (``parameters`` override the template's
    defaults); return the values of Ref and GetAtt: the parameters and the resources."""
    refs = {**parameter_defaults(template), **(parameters or {})}
    refs.update({"AWS::Region": region, "AWS::AccountId": ACCOUNT, "AWS::StackName": prefix})
    dynamodb = boto3.client("dynamodb", region_name=region)
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
    s3 = boto3.client("s3", region_name=region)
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
    sqs = boto3.client("sqs", region_name=region)
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
    return refs


def function_environment(env: dict[str, Any], refs: dict[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in resolve(env, refs).items()}
