"""template.yaml as data: CloudFormation tags, parameters, routes and function settings."""

from __future__ import annotations

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


def resolve(value: Any, refs: dict[str, str]) -> Any:
    """Resolve the intrinsics the template's environment uses: Ref, GetAtt and Sub."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return refs[arg]
        if key == "Fn::GetAtt":
            return refs[".".join(arg)]
        if key == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: refs[m.group(1)], arg)
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


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
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(regex)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


def routes(template: dict[str, Any]) -> list[Route]:
    found = []
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
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

    @property
    def file(self) -> Path:
        return self.code_dir / f"{self.module.replace('.', '/')}.py"


def functions(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    defaults = template.get("Globals", {}).get("Function", {})
    global_env = defaults.get("Environment", {}).get("Variables", {})
    specs = {}
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        module, handler = props.get("Handler", defaults.get("Handler")).rsplit(".", 1)
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        specs[name] = FunctionSpec(
            name=name,
            code_dir=ROOT / props["CodeUri"],
            module=module,
            handler=handler,
            environment=env,
            timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
            memory=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
        )
    return specs
