"""local.moto_fixes: DynamoDB item replies dumped as they are read, to a client exactly
as moto's own serializer renders them; transactions on their items only."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import ActionResult

from local.moto_fixes import ITEM_OPERATIONS, item_replies_as_dynamodb_sends_them

KEY = {"k": {"S": "a"}}
ITEM = {
    **KEY,
    "b": {"B": b"\x00\x01\xff"},
    "n": {"N": "1.5"},
    "m": {"M": {"x": {"L": [{"NULL": True}, {"BOOL": False}, {"SS": ["a", "b"]}]}}},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"x"]},
}


def calls(table: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("put_item", {"TableName": table, "Item": ITEM, "ReturnConsumedCapacity": "TOTAL"}),
        ("get_item", {"TableName": table, "Key": KEY, "ConsistentRead": True}),
        ("get_item", {"TableName": table, "Key": {"k": {"S": "absent"}}}),
        ("update_item", {"TableName": table, "Key": KEY, "UpdateExpression": "SET n = n + :o",
                         "ExpressionAttributeValues": {":o": {"N": "1"}},
                         "ReturnValues": "ALL_NEW"}),
        ("update_item", {"TableName": table, "Key": KEY, "UpdateExpression": "SET z = :z",
                         "ExpressionAttributeValues": {":z": {"S": "q"}},
                         "ReturnValues": "UPDATED_OLD"}),
        ("query", {"TableName": table, "KeyConditionExpression": "k = :k",
                   "ExpressionAttributeValues": {":k": {"S": "a"}}, "Limit": 1}),
        ("scan", {"TableName": table, "Limit": 1}),
        ("batch_get_item", {"RequestItems": {table: {"Keys": [KEY]}}}),
        ("transact_get_items", {"TransactItems": [{"Get": {"TableName": table, "Key": KEY}}]}),
        ("transact_write_items", {"TransactItems": [{"Update": {
            "TableName": table, "Key": KEY, "UpdateExpression": "SET y = :y",
            "ExpressionAttributeValues": {":y": {"S": "w"}}}}]}),
        ("batch_write_item", {"RequestItems": {table: [{"PutRequest": {"Item": {"k": {"S": "b"}}}}]}}),
        ("delete_item", {"TableName": table, "Key": KEY, "ReturnValues": "ALL_OLD"}),
    ]  # fmt: skip


def replies() -> list[dict[str, Any]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        )  # fmt: skip
        out = []
        for method, kwargs in calls("t"):
            reply = getattr(client, method)(**kwargs)
            reply.pop("ResponseMetadata")
            out.append(reply)
        return out


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_every_fast_operation_is_compared() -> None:
    names = {"".join(w.title() for w in method.split("_")) for method, _ in calls("t")}
    assert names == ITEM_OPERATIONS


def test_fast_rendering_equals_moto_serializer() -> None:
    item_replies_as_dynamodb_sends_them()
    fast = ActionResult.execute_result
    ActionResult.execute_result = fast.moto_serializer  # type: ignore[attr-defined,method-assign]
    try:
        by_serializer = replies()
    finally:
        ActionResult.execute_result = fast  # type: ignore[method-assign]
    assert replies() == by_serializer
    assert by_serializer[1]["Item"]["b"] == {"B": b"\x00\x01\xff"}
    assert "Item" not in by_serializer[2]


def test_transactions_change_their_items_only_and_keep_the_stream(api) -> None:
    """A cancelled transaction changes nothing and the table's stream flows on; a
    transaction that passes writes each item once (one stream record each)."""
    from botocore.exceptions import ClientError

    from local.pollers import StreamReader

    table, ddb = api.refs["JobsTable"], boto3.client("dynamodb")
    reader = StreamReader(api.refs["JobsTable.StreamArn"], start="TRIM_HORIZON")
    for key in "ab":
        ddb.put_item(TableName=table, Item={"jobId": {"S": key}, "n": {"N": "0"}})

    def bump(key: str, condition: str | None = None) -> dict[str, Any]:
        update = {"TableName": table, "Key": {"jobId": {"S": key}},
                  "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}  # fmt: skip
        if condition:
            update.update(
                ConditionExpression=condition, ReturnValuesOnConditionCheckFailure="ALL_OLD"
            )
        return {"Update": update}

    ddb.transact_write_items(TransactItems=[bump("a"), bump("b")])
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=[bump("a"), bump("b", "attribute_not_exists(n)")])
    reasons = cancelled.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["n"] == {"N": "1"}
    ddb.put_item(TableName=table, Item={"jobId": {"S": "c"}})
    changes = [(r["eventName"], r["dynamodb"]["Keys"]["jobId"]["S"]) for r in reader.read(100)]
    assert changes == [("INSERT", "a"), ("INSERT", "b"), ("MODIFY", "a"), ("MODIFY", "b"),
                       ("INSERT", "c")]  # fmt: skip
    assert api.item("a")["n"] == api.item("b")["n"] == {"N": "1"}
