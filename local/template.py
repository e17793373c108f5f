"""template.yaml as data: CloudFormation tags, parameters, routes and function settings."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !GetAtt, !Sub, !If …) as long forms."""


def _construct(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct)


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {
        name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
    }


def conditions(template: dict[str, Any], refs: dict[str, str]) -> dict[str, bool]:
    """The template's Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)."""
    specs = template.get("Conditions", {})

    def holds(spec: Any) -> bool:
        ((key, arg),) = spec.items()
        if key == "Fn::Equals":
            return str(resolve(arg[0], refs)) == str(resolve(arg[1], refs))
        if key == "Fn::Not":
            return not holds(arg[0])
        if key == "Fn::And":
            return all(holds(a) for a in arg)
        if key == "Fn::Or":
            return any(holds(a) for a in arg)
        if key == "Condition":
            return holds(specs[arg])
        raise ValueError(f"unsupported condition {key}")

    return {name: holds(spec) for name, spec in specs.items()}


def resolve(value: Any, refs: dict[str, str], when: dict[str, bool] | None = None) -> Any:
    """Resolve the intrinsics the template uses outside resources: Ref, GetAtt, Sub, Join,
    Split, Select, GetAZs, and If (given the conditions' values in ``when``). A CommaDelimitedList
    parameter's Ref is its text, commas and all."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else refs[arg]
        if key == "Fn::If" and when is not None:
            condition, then, otherwise = arg
            return resolve(then if when[condition] else otherwise, refs, when)
        if key == "Fn::GetAtt":
            return refs[".".join(arg)]
        if key == "Fn::Join":
            separator, items = arg
            items = resolve(items, refs, when)  # a list parameter's Ref: its text
            return separator.join(str(i) for i in (items if isinstance(items, list) else
                                                   str(items).split(",")))  # fmt: skip
        if key == "Fn::Split":
            separator, text = arg
            return str(resolve(text, refs, when)).split(separator)
        if key == "Fn::Select":
            index, items = arg
            return resolve(items, refs, when)[int(index)]
        if key == "Fn::GetAZs":
            region = refs.get("AWS::Region", "us-east-1")
            return [f"{region}{zone}" for zone in "abc"]
        if key == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else arg
            local = {k: resolve(v, refs, when) for k, v in names.items()}
            return re.sub(r"\$\{([^}]+)\}", lambda m: str({**refs, **local}[m[1]]), text)
    if isinstance(value, dict):
        resolved = {k: resolve(v, refs, when) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [r for r in (resolve(v, refs, when) for v in value) if r is not NO_VALUE]
    return value


NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()
"""What ``Ref AWS::NoValue`` resolves to: left out of the list or mapping that holds it, as
CloudFormation leaves it out."""


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


@dataclass(frozen=True)
class Route:
    """One API event of a function: a path pattern such as /async/{jobId}/phase, and a method."""

    function: str
    path: str
    method: str

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.escape(self.path)
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", regex)  # {proxy+}: one segment or more
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(regex)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()

    @property
    def specificity(self) -> tuple[int, ...]:
        """Smaller is more specific: a literal segment beats {param}, which beats {param+}."""
        return tuple(
            2 if part.endswith("+}") else 1 if part.startswith("{") else 0
            for part in self.path.strip("/").split("/")
            if part
        )


def deployed(
    template: dict[str, Any], kind: str, when: dict[str, bool] | None = None
) -> dict[str, dict[str, Any]]:
    """The resources of ``kind`` a deployment has: those whose Condition holds in ``when``
    (all of them without it)."""
    return {
        name: resource
        for name, resource in resources_of_type(template, kind).items()
        if when is None or when.get(resource.get("Condition", ""), True)
    }


def routes(template: dict[str, Any], when: dict[str, bool] | None = None) -> list[Route]:
    found = []
    for name, resource in deployed(template, "AWS::Serverless::Function", when).items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                found.append(Route(name, props["Path"], props["Method"].upper()))
    return found


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    code_dir: Path
    module: str
    handler: str
    environment: dict[str, Any]  # unresolved: intrinsics still in place
    timeout: int
    memory: int
    reserved: int | None = None  # ReservedConcurrentExecutions; None: the unreserved pool

    @property
    def file(self) -> Path:
        return self.code_dir / f"{self.module.replace('.', '/')}.py"


def functions(
    template: dict[str, Any], when: dict[str, bool] | None = None,
    refs: dict[str, str] | None = None,
) -> dict[str, FunctionSpec]:  # fmt: skip
    """The deployment's functions; ``refs`` give the parameters (the defaults without)."""
    defaults = template.get("Globals", {}).get("Function", {})
    global_env = defaults.get("Environment", {}).get("Variables", {})
    # sizes may depend on conditions (the worker's memory on JobType); the defaults decide
    # where the caller gives none
    refs = {**parameter_defaults(template), **(refs or {})}
    sizes = when if when is not None else conditions(template, refs)
    specs = {}
    for name, resource in deployed(template, "AWS::Serverless::Function", when).items():
        props = resource["Properties"]
        module, handler = props.get("Handler", defaults.get("Handler")).rsplit(".", 1)
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        specs[name] = FunctionSpec(
            name=name,
            code_dir=ROOT / props["CodeUri"],
            module=module,
            handler=handler,
            environment=env,
            timeout=int(resolve(props.get("Timeout", defaults.get("Timeout", 3)), {}, sizes)),
            memory=int(
                resolve(props.get("MemorySize", defaults.get("MemorySize", 128)), {}, sizes)
            ),
            reserved=reservation(props, refs, sizes),
        )
    return specs


def reservation(props: dict[str, Any], refs: dict[str, str], when: dict[str, bool]) -> int | None:
    """A function's ReservedConcurrentExecutions for these parameters (None: none)."""
    value = resolve(props.get("ReservedConcurrentExecutions", NO_VALUE), refs, when)
    return None if value is NO_VALUE else int(value)


@dataclass(frozen=True)
class RestApi:
    """What API Gateway itself does for the template's API: binary media types and its own
    gateway responses (status, headers, body), resolved for the given parameters."""

    binary_media_types: tuple[str, ...]
    gateway_responses: dict[str, dict[str, Any]]

    def is_binary(self, content_type: str) -> bool:
        media_type = content_type.split(";")[0].strip().lower()
        return bool(media_type) and any(
            fnmatch.fnmatchcase(media_type, pattern) for pattern in self.binary_media_types
        )

    def gateway_response(
        self, kind: str, default_status: int, error: str
    ) -> tuple[int, dict[str, str], bytes]:
        """The answer API Gateway gives for a gateway response type (its default if the
        template sets none), with ``$context.error.message`` filled in."""
        spec = self.gateway_responses.get(kind) or self.gateway_responses.get(
            "DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX"
        )
        if spec is None:
            body = json.dumps({"message": error}).encode()
            return default_status, {"Content-Type": "application/json"}, body
        headers = {
            name.removeprefix("gatewayresponse.header."): value.strip("'")
            for name, value in spec.get("responseParameters", {}).items()
        }
        body = next(iter(spec.get("responseTemplates", {}).values()), "")
        body = body.replace("$context.error.messageString", f'"{error}"')
        body = body.replace("$context.error.message", error)
        return int(spec.get("statusCode", default_status)), headers, body.encode()


def rest_api(template: dict[str, Any], refs: dict[str, str]) -> RestApi:
    refs = {"AWS::StackName": "uws", "AWS::NoValue": "", **refs}
    (api,) = resources_of_type(template, "AWS::Serverless::Api").values()
    props = api["Properties"]
    responses = props.get("DefinitionBody", {}).get("x-amazon-apigateway-gateway-responses", {})
    return RestApi(
        binary_media_types=tuple(
            t.replace("~1", "/").lower() for t in props.get("BinaryMediaTypes", [])
        ),
        gateway_responses=resolve(responses, refs, conditions(template, refs)),
    )
