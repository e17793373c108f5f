"""template.yaml: routes for every UWS resource and method, least privilege, safe storage."""

import fnmatch
import json
from collections.abc import Iterator

import pytest

from local.template import (
    ROOT,
    conditions,
    functions,
    load,
    parameter_defaults,
    resolve,
    resources_of_type,
    rest_api,
    routes,
)

UWS_PATHS = {
    "/async", "/async/{jobId}", "/async/{jobId}/phase", "/async/{jobId}/executionduration",
    "/async/{jobId}/destruction", "/async/{jobId}/error", "/async/{jobId}/quote",
    "/async/{jobId}/owner", "/async/{jobId}/parameters", "/async/{jobId}/parameters/{name}",
    "/async/{jobId}/results", "/async/{jobId}/results/{id}", "/async/{jobId}/startTime",
}  # fmt: skip
TAP_PATHS = {"/sync", "/capabilities", "/availability", "/tables", "/tables/{name}", "/examples"}
PUBLIC_PATHS = TAP_PATHS - {"/sync"}  # VOSI answers anyone (docs/tap.md)
WRITES = ("Put", "Update", "Delete", "BatchWrite", "Send", "Create")
READ_ONLY = [
    "ErrorFunction",
    "QuoteFunction",
    "OwnerFunction",
    "StartTimeFunction",
    "ResultsFunction",
]


@pytest.fixture(scope="module")
def template():
    return load()


def statements(resource):
    """A function's policy statements: its own, or those of the role it names."""
    found = []
    role = resource["Properties"].get("Role")
    if role is not None:
        resource = load()["Resources"][role["Fn::GetAtt"][0]]
        return [
            s for p in resource["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
        ]
    for policy in resource["Properties"].get("Policies", []):
        if "Statement" in policy:
            found.extend(policy["Statement"])
        else:
            found.append(policy)  # a SAM policy template
    return found


def actions(statement):
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else action


CATCH_ALL = {"/", "/{proxy+}"}


def test_every_uws_path_routes_every_method_to_one_function(template):
    found = routes(template)
    assert {r.path for r in found} == UWS_PATHS | CATCH_ALL | TAP_PATHS
    assert all(r.method == "ANY" for r in found)  # so the function answers 405 itself
    assert len({r.path for r in found}) == len(found)


def test_taps_functions_exist_only_when_the_job_type_is_tap(template):
    """Without JobType tap the TAP paths reach the API's 404 (NotFoundFunction); with it,
    TAP's functions with the TAP layer, and the worker carries the layer too."""
    from local.template import conditions

    defaults = parameter_defaults(template)
    for job_type, present in (("demo", False), ("tap", True)):
        when = conditions(template, {**defaults, "JobType": job_type})
        deployed = {r.path: r.function for r in routes(template, when)}
        assert (set(deployed) >= TAP_PATHS) is present
        assert (
            set(functions(template, when)) >= {"TapSyncFunction", "TapVosiFunction"} or not present
        )
    for name in ("TapSyncFunction", "TapVosiFunction"):
        function = template["Resources"][name]
        assert function["Condition"] == "IsTap"
        assert function["Properties"]["Layers"] == [{"Ref": "TapEngineLayer"}]
    assert template["Resources"]["TapLayer"]["Condition"] == "IsTap"
    assert template["Resources"]["TapEngineLayer"]["Condition"] == "IsTap"
    worker = template["Resources"]["WorkerFunction"]["Properties"]
    engine = {"Fn::If": ["IsTap", {"Ref": "TapEngineLayer"}, {"Ref": "AWS::NoValue"}]}
    assert worker["Layers"] == [engine]
    # every function creates, changes or shows tap jobs: the tap package (not its engine)
    tap_code = {"Fn::If": ["IsTap", {"Ref": "TapLayer"}, {"Ref": "AWS::NoValue"}]}
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "UwsLayer"}, tap_code]


def test_what_no_uws_path_takes_goes_to_a_function_without_aws_access(template):
    """API Gateway would answer unrouted paths itself (403 "Missing Authentication Token");
    the catch-all routes make them a 404 with a sentence, from a function that can do nothing
    else."""
    assert {r.function for r in routes(template) if r.path in CATCH_ALL} == {"NotFoundFunction"}
    assert "Policies" not in template["Resources"]["NotFoundFunction"]["Properties"]


def test_every_route_has_the_apis_security_and_its_functions_integration(template):
    """With a DefinitionBody SAM adds no integration for the Api events: each path names its
    function itself, and it must be the function whose event routes that path."""
    body = template["Resources"]["UwsApi"]["Properties"]["DefinitionBody"]
    assert set(body["paths"]) == UWS_PATHS | CATCH_ALL | TAP_PATHS
    methods = {path: p["x-amazon-apigateway-any-method"] for path, p in body["paths"].items()}
    secured = [m["security"] for path, m in methods.items() if path not in PUBLIC_PATHS]
    assert all(security == secured[0] for security in secured)
    assert all(methods[path]["security"] == [] for path in PUBLIC_PATHS)
    by_events = {r.path: r.function for r in routes(template)}
    for path, method in methods.items():
        integration = method["x-amazon-apigateway-integration"]
        assert (integration["type"], integration["httpMethod"]) == ("aws_proxy", "POST")
        uri = integration["uri"]
        if path in TAP_PATHS:  # TAP's function with JobType tap, else the API's 404
            condition, tap_uri, otherwise = uri["Fn::If"]
            assert condition == "IsTap" and "${NotFoundFunction.Arn}" in otherwise["Fn::Sub"]
            uri = tap_uri
        assert f"${{{by_events[path]}.Arn}}/invocations" in uri["Fn::Sub"], path


def test_binary_media_types_are_written_as_rest_apis_want_them(template):
    """REST APIs take ~1 for the slash; a plain slash breaks a later stack update."""
    types = template["Resources"]["UwsApi"]["Properties"]["BinaryMediaTypes"]
    assert "multipart~1form-data" in types
    assert all("/" not in t and "~1" in t for t in types)


@pytest.mark.parametrize("auth_mode", ["anonymous", "iam", "cognito"])
@pytest.mark.parametrize(
    "kind, status",
    [("MISSING_AUTHENTICATION_TOKEN", 403), ("REQUEST_TOO_LARGE", 413), ("DEFAULT_4XX", 400),
     ("DEFAULT_5XX", 502)],
)  # fmt: skip
def test_api_gateways_own_answers_are_plain_sentences(template, auth_mode, kind, status):
    refs = {**parameter_defaults(template), "AuthMode": auth_mode, "AWS::NoValue": ""}
    answer_status, headers, body = rest_api(template, refs).gateway_response(kind, status, "X")
    assert headers.pop("Content-Type") == "text/plain; charset=utf-8"
    assert headers == ({"Retry-After": "5"} if status >= 500 else {})  # a 5xx says when to retry
    text = body.decode()
    assert text.endswith(".") and text.count(". ") == 0 and not text.startswith("{"), text
    if kind == "MISSING_AUTHENTICATION_TOKEN":  # unsigned, in iam mode; else unrouted
        assert answer_status == (403 if auth_mode == "iam" else 404)


def test_read_only_functions_cannot_write(template):
    functions_ = resources_of_type(template, "AWS::Serverless::Function")
    for name in READ_ONLY:
        for statement in statements(functions_[name]):
            assert "Action" in statement, f"{name} uses a SAM policy template: {statement}"
            for action in actions(statement):
                assert not any(word in action for word in WRITES), (name, action)


def test_no_function_has_wildcard_actions_or_resources(template):
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        for statement in statements(function):
            if "Action" not in statement:
                continue
            assert all("*" not in a for a in actions(statement)), name
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            if actions(statement) == ["ecs:ListTasks"]:
                # ListTasks names no task; IAM narrows it by the cluster's condition key
                # (Service Authorization Reference, Amazon ECS: ecs:cluster)
                assert set(statement["Condition"]["ArnEquals"]) == {"ecs:cluster"}, name
                continue
            assert "*" not in resources, name


def test_queries_go_to_indexes_and_nothing_scans(template):
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        acts = [a for s in statements(function) if "Action" in s for a in actions(s)]
        assert "dynamodb:Scan" not in acts, name
        queried = [
            str(r)
            for s in statements(function)
            if "dynamodb:Query" in actions(s)
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        ]
        if name == "JobsFunction":
            assert any("index/byOwner" in r for r in queried)
        elif name == "ReaperFunction":
            assert all("index/byDestruction" in r or "index/byDeadline" in r for r in queried)
            assert queried
        else:
            assert queried == [], name


def test_only_the_worker_writes_results(template):
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        for statement in statements(function):
            if "s3:PutObject" in actions(statement):
                resource = str(statement["Resource"])
                # uploads; and /sync's answers too large to send, under answers/
                assert (
                    name == "WorkerFunction"
                    or "uploads" in resource
                    or (name == "TapSyncFunction" and "/answers/*" in resource)
                ), name


def test_worker_outlives_the_longest_job_and_the_queue_outlives_the_worker(template):
    resources = template["Resources"]
    worker = resources["WorkerFunction"]["Properties"]
    from uws.config import LAMBDA_MAX_EXECUTION_DURATION

    # the longest job the worker takes (longer ones run as container tasks)
    assert worker["Timeout"] > LAMBDA_MAX_EXECUTION_DURATION
    assert resources["JobsQueue"]["Properties"]["VisibilityTimeout"] >= 6 * worker["Timeout"]
    queue_event = worker["Events"]["Queue"]["Properties"]
    assert queue_event["BatchSize"] == 1
    assert queue_event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_bucket_is_private_encrypted_and_tls_only(template):
    bucket = template["Resources"]["ResultsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    policy = template["Resources"]["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_files_left_behind_expire_after_the_longest_destruction(template):
    rules = template["Resources"]["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("Prefix") == "jobs/"]
    assert rule["ExpirationInDays"] == {"Ref": "FileRetentionDays"}
    parameters = template["Parameters"]
    assert parameters["FileRetentionDays"]["Default"] > parameters["MaxDestructionDays"]["Default"]


def test_table_is_on_demand_recoverable_encrypted_with_the_three_indexes(template):
    table = template["Resources"]["JobsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
        "byOwner",
        "byDestruction",
        "byDeadline",
    }


def test_queue_has_a_dead_letter_queue(template):
    queue = template["Resources"]["JobsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5  # Lambda's SQS guide: throttled receives


def test_functions_are_traced_by_lambda_not_powertools(template):
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    for spec in functions(template).values():
        assert "Tracer" not in spec.file.read_text()


ALARMS = {
    "DeadLetterAlarm", "ApiServerErrorsAlarm", "FunctionErrorsAlarm", "ThrottlesAlarm",
    "WorkerNearTimeoutAlarm", "JobFailureRateAlarm", "ReaperNotRunningAlarm",
}  # fmt: skip


def test_every_alarm_notifies_the_topic_and_email_is_optional(template):
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert set(alarms) == ALARMS
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["Properties"]["AlarmDescription"], name
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    refs = {**parameter_defaults(template)}
    from local.template import conditions

    assert conditions(template, refs)["HasAlarmEmail"] is False
    assert conditions(template, {**refs, "AlarmEmail": "ops@example.org"})["HasAlarmEmail"]


def test_the_dashboard_is_json_and_shows_every_alarm(template):
    import json
    import re

    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(ALARMS)
    assert {m for m in re.findall(r"\$\{(\w+)\.Arn\}", body)} == ALARMS


def test_the_worker_is_capped_and_a_queued_job_waits_as_long_as_its_message(template):
    """A burst of RUNs cannot take the account's concurrency; a job behind the cap is not
    ended while SQS still keeps its message."""
    event = template["Resources"]["WorkerFunction"]["Properties"]["Events"]["Queue"]
    assert event["Properties"]["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}
    }
    queue = template["Resources"]["JobsQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == {"Ref": "QueueTimeoutSeconds"}
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["QUEUE_TIMEOUT_SECONDS"] == {"Ref": "QueueTimeoutSeconds"}


# ---- what AWS refuses that moto and cfn-lint take (docs/aws.md) ---------------------------


def test_topics_that_alarms_and_rules_publish_to_are_not_under_the_aws_managed_key(template):
    """CloudWatch alarms and EventBridge rules cannot publish to a topic encrypted with the
    AWS-managed key alias/aws/sns, whose policy cannot grant them (SNS Developer Guide, "Key
    management": compatibility with AWS services); the alarm goes to ALARM and notifies no one."""
    resources = template["Resources"]
    published = set()
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
                published |= {a["Ref"] for a in props.get(key, [])}
        if resource["Type"] == "AWS::Events::Rule":
            published |= {t["Arn"]["Ref"] for t in props.get("Targets", []) if "Ref" in t["Arn"]}
    assert {"AlarmTopic", "JobErrorTopic"} <= published
    for topic in published:
        key = resources[topic]["Properties"].get("KmsMasterKeyId")
        assert key is None or not str(key).startswith("alias/aws/"), topic


def test_the_cluster_is_created_without_ecss_service_linked_role(template):
    """A cluster created with capacity providers needs ECS's service-linked role at once: the
    first deploy in an account that never used ECS fails (ECS Developer Guide, "Using
    service-linked roles for Amazon ECS"). The tasks are started with the FARGATE launch
    type instead (local.moto_containers imposes the rule on every local deployment)."""
    cluster = template["Resources"]["JobCluster"].get("Properties", {})
    assert not {"CapacityProviders", "DefaultCapacityProviderStrategy"} & set(cluster)
    assert not resources_of_type(template, "AWS::ECS::ClusterCapacityProviderAssociations")
    assert "capacityProviderStrategy" not in (ROOT / "layers/uws/uws/containers.py").read_text()


def test_no_fargate_spot_for_arm64_tasks(template):
    """Fargate Spot runs X86_64 tasks only (ECS Developer Guide, "Amazon ECS task definitions
    for 64-bit ARM workloads"); the tasks load the layer, built for arm64."""
    (definition,) = resources_of_type(template, "AWS::ECS::TaskDefinition").values()
    assert definition["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    assert "FARGATE_SPOT" not in json.dumps(template)


@pytest.mark.parametrize("job_type", ["demo", "tap"])
def test_tasks_may_load_every_version_of_this_stacks_layers_and_no_other(template, job_type):
    """CloudFormation changes the task role before the functions: a role naming one layer
    version fails the tasks the old functions started (AccessDenied on GetLayerVersion). A
    layer's name is the region's: it carries the stack's name, and old versions are kept. A
    TAP deployment's tasks load the tap and engine layers too, in the worker's order."""
    names = ["UwsLayer", "TapLayer", "TapEngineLayer"] if job_type == "tap" else ["UwsLayer"]
    for name in names:
        assert template["Resources"][name]["Properties"]["RetentionPolicy"] == "Retain"
    task_role = template["Resources"]["JobTaskRole"]["Properties"]["Policies"]
    (grant,) = [s for p in task_role for s in p["PolicyDocument"]["Statement"]
                if s.get("Action") == "lambda:GetLayerVersion"]  # fmt: skip
    (definition,) = resources_of_type(template, "AWS::ECS::TaskDefinition").values()
    environment = definition["Properties"]["ContainerDefinitions"][0]["Environment"]
    (loaded,) = [e["Value"] for e in environment if e["Name"] == "UWS_LAYER_ARNS"]

    def arns(stack: str) -> tuple[list[str], list[str], str]:
        refs = {
            **parameter_defaults(template),
            "AWS::StackName": stack,
            "AWS::Partition": "aws",
            "AWS::Region": "eu-west-1",
            "AWS::AccountId": "123456789012",
            "JobType": job_type,
        }
        when = conditions(template, refs)
        layers = [f"arn:aws:lambda:eu-west-1:123456789012:layer:"
                  f"{resolve(template['Resources'][n]['Properties']['LayerName'], refs)}"
                  for n in names]  # fmt: skip
        refs.update({n: f"{arn}:7" for n, arn in zip(names, layers, strict=True)})
        return layers, resolve(grant["Resource"], refs, when), resolve(loaded, refs, when)

    (ours, allowed, order), (theirs, _, _) = arns("uws-a"), arns("uws-b")
    assert order == ",".join(f"{arn}:7" for arn in ours)  # the worker's order
    for layer in ours:
        assert all(any(fnmatch.fnmatchcase(f"{layer}:{n}", a) for a in allowed) for n in (1, 17))
    assert len(allowed) == len(names)
    assert not any(fnmatch.fnmatchcase(f"{layer}:1", a) for layer in theirs for a in allowed)


MANAGED_FOR_EVERY_FUNCTION = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",  # its own logs
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",  # its traces
}
# Actions IAM authorizes on no resource, or narrows by a condition key (Service Authorization
# Reference: Amazon ECR, Amazon ECS, AWS X-Ray).
ACCOUNT_WIDE = {"ecr:GetAuthorizationToken", "ecs:ListTasks"}


@pytest.mark.parametrize("repository", ["", "ecr-public/lambda/python"])
def test_every_role_names_this_stacks_resources_and_no_managed_policy_reads_others(
    repository, monkeypatch
):
    """SAM's SQS and DynamoDB-stream event sources give a role AWS-managed policies that read
    every queue or stream of the account; ECR pulls from any repository are as wide. After
    SAM's transform, each role has only the managed policies of every Lambda function (logs,
    traces), and "*" only for account-wide actions; the tasks pull from TaskImageRepository
    alone, and from none for a public image."""
    roles = transformed_roles({"TaskImageRepository": repository}, monkeypatch)
    assert {"WorkerRole", "EventsRole", "JobTaskExecutionRole"} <= set(roles)
    pulls = []
    for name, props in roles.items():
        assert set(props.get("ManagedPolicyArns", [])) <= MANAGED_FOR_EVERY_FUNCTION, name
        for acts, wanted in grants(props):
            if "*" in wanted:
                assert set(acts) <= ACCOUNT_WIDE, (name, acts)
            pulls += [r for r in wanted if ":ecr:" in str(r)]
    expected = f"arn:aws:ecr:eu-west-1:123456789012:repository/{repository}"
    assert pulls == ([expected] if repository else [])


@pytest.mark.parametrize(("job_type", "buckets"), [("tap", "survey-a,survey-b"), ("tap", ""),
                                                   ("demo", "survey-a")])  # fmt: skip
def test_the_query_roles_read_the_buckets_catalogue_buckets_names_and_no_other(
    job_type, buckets, monkeypatch
):
    """A TAP deployment's tables may be in other buckets (CatalogueBuckets): the roles of the
    functions and the task that read the catalogue may read those buckets' objects and list
    them, and no role reads them otherwise."""
    parameters = {"JobType": job_type, "CatalogueBuckets": buckets}
    found: dict[str, set[tuple[str, str]]] = {}
    for name, props in transformed_roles(parameters, monkeypatch).items():
        for acts, wanted in grants(props):
            found.setdefault(name, set()).update(
                (a, r) for a in acts for r in wanted if "survey" in str(r)
            )
    readers = {"WorkerRole", "TapSyncFunctionRole", "TapVosiFunctionRole", "JobTaskRole"}
    named = buckets.split(",") if job_type == "tap" and buckets else []
    # any partition's: the account's own is the only one its roles reach
    expected = {("s3:GetObject", f"arn:*:s3:::{b}/*") for b in named}
    expected |= {("s3:ListBucket", f"arn:*:s3:::{b}") for b in named}
    wanted = dict.fromkeys(readers, expected) if named else {}
    assert {k: v for k, v in found.items() if v} == wanted


def transformed_roles(parameters: dict[str, str], monkeypatch) -> dict[str, dict]:
    """Every IAM role's properties after SAM's transform, intrinsics resolved with these
    parameters (resources' names and attributes as ``<Name.Attribute>``)."""
    from local.check_transform import transformed
    from local.iam import sam_template

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # SAM's transform wants one
    auth = parameters.get("AuthMode", "anonymous")
    resources = transformed(sam_template(), auth, parameters)["Resources"]
    refs = {**parameter_defaults(template_()), **parameters, "AWS::NoValue": None, "AWS::Partition": "aws",
            "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::StackName": "s"}  # fmt: skip
    when = conditions(template_(), refs)
    attributes = ("", ".Arn", ".QueueName", ".StreamArn")
    names = {f"{k}{a}": f"<{k}{a}>" for k in resources for a in attributes}
    return {
        name: resolve(role["Properties"], {**refs, **names}, when)
        for name, role in resources.items()
        if role["Type"] == "AWS::IAM::Role"
    }


def grants(props: dict) -> Iterator[tuple[list[str], list[str]]]:
    """Each statement of a role's inline policies: its actions and resources, as lists."""
    for policy in props.get("Policies", []):
        for statement in filter(None, policy["PolicyDocument"]["Statement"]):
            acts, wanted = statement["Action"], statement["Resource"]
            yield (acts if isinstance(acts, list) else [acts],
                   wanted if isinstance(wanted, list) else [wanted])  # fmt: skip


def template_():
    return load()


def fargate_pairs_the_rules_take(template, cpu: str, memory: str) -> bool:
    """Whether the template's Rules let a deploy with TaskCpu ``cpu`` and TaskMemory
    ``memory`` go ahead."""
    return the_rules_take(template, TaskCpu=cpu, TaskMemory=memory)


def the_rules_take(template, **parameters: str) -> bool:
    """Whether the template's Rules let a deploy with these parameters go ahead
    (CloudFormation evaluates each rule whose condition holds)."""
    refs = {**parameter_defaults(template), **parameters}
    lists = {k for k, v in template["Parameters"].items() if v["Type"] == "CommaDelimitedList"}

    def value(spec):
        if isinstance(spec, dict) and len(spec) == 1:
            ((key, arg),) = spec.items()
            if key == "Ref":
                return refs[arg].split(",") if arg in lists else refs[arg]
            if key == "Fn::Equals":
                return value(arg[0]) == value(arg[1])
            if key == "Fn::Not":
                return not value(arg[0])
            if key == "Fn::Contains":
                listed = value(arg[0])
                return value(arg[1]) in (listed if isinstance(listed, list) else
                                         [value(a) for a in arg[0]])  # fmt: skip
        return spec

    return all(
        all(value(a["Assert"]) for a in rule["Assertions"])
        for rule in template["Rules"].values()
        if value(rule.get("RuleCondition", True)) is True
    )


def test_the_deploy_refuses_cpu_and_memory_fargate_would_not_run(template):
    """ECS Developer Guide, "Amazon ECS task definition parameters for Fargate": each task
    CPU takes only some memory sizes; any other pair deploys and fails every RunTask."""
    from local.moto_containers import fargate_takes

    cpus = template["Parameters"]["TaskCpu"]["AllowedValues"]
    assert fargate_pairs_the_rules_take(template, "1024", "2048")  # the defaults
    for cpu in cpus:
        for memory in range(512, 122881 + 1024, 512):
            taken = fargate_pairs_the_rules_take(template, cpu, str(memory))
            assert taken == fargate_takes(int(cpu), memory), (cpu, memory)


def test_the_catalogues_own_bucket_is_not_one_of_the_other_buckets(template):
    """Naming it in CatalogueBuckets would let the functions read all of it, not only the
    catalogue's prefix: the deploy refuses."""
    assert the_rules_take(template, CatalogueBucket="cat", CatalogueBuckets="survey,gaia")
    assert the_rules_take(template, CatalogueBucket="", CatalogueBuckets="survey")
    assert not the_rules_take(template, CatalogueBucket="cat", CatalogueBuckets="survey,cat")


def test_api_gateways_413_is_the_functions_own_sentence(template):
    """API Gateway answers a body over its 10 MB, and one whose event Lambda refuses, with
    its REQUEST_TOO_LARGE response: the sentence the functions give over MAX_BODY_BYTES."""
    from uws.config import MAX_BODY_BYTES

    refs = {**parameter_defaults(template), "AWS::NoValue": ""}
    status, _, body = rest_api(template, refs).gateway_response("REQUEST_TOO_LARGE", 413, "X")
    assert (status, body.decode()) == (
        413,
        f"The request body is over the limit of {MAX_BODY_BYTES} bytes.",
    )


def test_api_access_logs_are_on_with_a_retention(template, monkeypatch):
    """Who called, what, the status and the latency of each request (API Gateway Developer
    Guide, "Set up CloudWatch logging for REST APIs"): the format must carry
    $context.requestId, and API Gateway logs only once the region's account settings name a
    role, which must outlive the stack (other APIs log through it)."""
    from local.check_transform import transformed
    from local.iam import sam_template

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # SAM's transform wants one
    group = template["Resources"]["ApiAccessLogGroup"]
    assert group["Properties"]["RetentionInDays"] == {"Ref": "AccessLogRetentionDays"}
    assert group["DependsOn"] == "ApiGatewayAccount"
    account = template["Resources"]["ApiGatewayAccount"]
    role = template["Resources"][account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert account["DeletionPolicy"] == role["DeletionPolicy"] == "Retain"
    resources = transformed(sam_template(), "anonymous")["Resources"]
    (stage,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    setting = stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])
    for wanted in ("$context.requestId", "$context.identity.sourceIp", "$context.httpMethod",
                   "$context.path", "$context.status", "$context.responseLatency"):  # fmt: skip
        assert wanted in fields.values(), wanted
