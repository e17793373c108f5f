"""The README's Layout names every module of the layer and of the local runtime, and nothing
that is not there: a newcomer finds each room from it."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Layout\n") :]
    return section[section.index("```") + 3 : section.index("```", section.index("```") + 3)]


def named_files(block: str) -> set[str]:
    return set(re.findall(r"\b[\w]+\.py\b", block))


def test_every_module_is_named_in_the_layout():
    named = named_files(layout_block())
    modules = [
        *(ROOT / "layers" / "uws" / "uws").rglob("*.py"),
        *(ROOT / "layers" / "tap" / "tap").rglob("*.py"),
        *(ROOT / "local").glob("*.py"),
    ]
    missing = sorted(
        str(m.relative_to(ROOT)) for m in modules if m.name not in named | {"__init__.py"}
    )
    assert missing == []


def test_the_layout_names_nothing_that_is_not_there():
    files = {
        p.name for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "build" not in p.parts
    }
    assert named_files(layout_block()) - files == set()


def test_the_layout_names_each_room_of_the_layer():
    block = layout_block()
    rooms = [
        d
        for d in (ROOT / "layers" / "uws" / "uws").rglob("*")
        if d.is_dir() and d.name != "__pycache__"
    ]
    assert rooms and [d.name for d in rooms if f"{d.name}/" not in block] == []


def test_the_tap_extra_is_the_tap_layers_requirements():
    """`make serve-tap` installs the `tap` extra; Lambda gets layers/tap/requirements.txt."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    layer = (ROOT / "layers" / "tap" / "requirements.txt").read_text().split("\n")
    assert sorted(extras["tap"]) == sorted(
        line for line in layer if line and not line.startswith("#")
    )
