"""The house rules of the uws layer (docs/architecture.md): storage words stay in the store,
only the entry points reach the web room, the core never knows TAP, and no module grows past
what one reads in a sitting."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

LAYER = Path(__file__).parents[2] / "layers" / "uws" / "uws"
MODULES = sorted(p for p in LAYER.rglob("*.py"))
OUTSIDE_THE_STORE = [p for p in MODULES if "store" not in p.relative_to(LAYER).parts]

# DynamoDB's expression language, and item attributes that are not UWS's own words (runId,
# creationTime and the like are also element names of UWS documents).
STORAGE_WORDS = re.compile(
    r"attribute_(not_)?exists|Expression|ExclusiveStartKey|ReturnValues"
    r"|[\"'](ownerKey|destructionShard|deadlineShard|deadline|errorDetail|mimeType|jobType"
    r"|uploads|version)[\"'.]"
    r"|[\"'][#:][a-zA-Z]"
)


@pytest.mark.parametrize("module", OUTSIDE_THE_STORE, ids=lambda p: p.name)
def test_no_module_outside_the_store_speaks_dynamodb(module):
    found = [
        f"{module.name}:{number}: {line.strip()}"
        for number, line in enumerate(module.read_text().splitlines(), 1)
        if STORAGE_WORDS.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == []


def imported_after(module: str) -> set[str]:
    """The uws modules importing ``module`` brings in, in a fresh interpreter."""
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('uws')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


WEB = {f"uws.web.{p.stem}" for p in (LAYER / "web").glob("*.py") if p.stem != "__init__"} | {
    "uws.web"
}
CORE = sorted(
    f"uws.{'.'.join(p.relative_to(LAYER).with_suffix('').parts)}".removesuffix(".__init__")
    for p in MODULES
    if p.relative_to(LAYER).parts[0] not in ("web", "entrypoints.py")
)


@pytest.mark.parametrize("module", CORE)
def test_the_core_never_imports_the_web_room(module):
    """Only the entry points reach the HTTP room (docs/architecture.md, The rooms): the
    worker, the reaper, the store and the verbs run without it."""
    assert imported_after(module) & WEB == set()


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(LAYER)))
def test_nothing_but_the_entry_points_imports_the_web_room(module):
    """Said in the source too, so that a lazy import inside a function cannot slip by."""
    relative = module.relative_to(LAYER)
    if relative.parts[0] == "web" or relative.name == "entrypoints.py":
        return
    text = module.read_text()
    assert not re.search(r"^\s*(from|import) (\.+web\b|uws\.web\b|\. import web\b)", text, re.M)


def test_the_uws_layer_never_imports_tap():
    """TAP builds on the UWS core; the core knows nothing of it (docs/architecture.md)."""
    for module in MODULES:
        assert not re.search(r"^\s*(from|import) tap\b", module.read_text(), re.M), module


@pytest.mark.parametrize(
    "module, never",
    [
        ("uws.web.http", {"uws.store", "uws.store.jobstore"}),
        ("uws.web.xml", {"uws.store", "uws.store.jobstore"}),
        # pages (Jinja2) and the Idempotency utility only for the requests that need them
        ("uws.entrypoints", {"uws.web.pages", "uws.web.idempotency", "uws.eventbus"}),
    ],
)
def test_what_a_module_does_not_need_it_does_not_import(module, never):
    assert imported_after(module) & never == set()


def test_only_the_store_and_the_client_module_import_boto():
    for module in MODULES:
        if re.search(r"^\s*(import|from) (boto3|botocore)", module.read_text(), re.M):
            assert module.parent.name == "store" or module.name == "aws.py", module.name


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(LAYER)))
def test_every_module_reads_in_one_sitting(module):
    assert len(module.read_text().splitlines()) <= 450
