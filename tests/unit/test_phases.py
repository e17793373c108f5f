"""The phase table is the whole graph: every phase the store writes is a named transition's
target, guarded by that transition's sources (docs/architecture.md, Phases)."""

import re
from pathlib import Path

from uws import phases
from uws.phases import ALL_TRANSITIONS, FINAL, Phase

STORE = Path(__file__).parents[2] / "layers" / "uws" / "uws" / "store"


def test_the_graph_is_uws_s_with_held():
    edges = {(s, t.target) for t in ALL_TRANSITIONS for s in t.sources}
    assert edges == {
        (Phase.PENDING, Phase.QUEUED), (Phase.HELD, Phase.QUEUED),
        (Phase.PENDING, Phase.HELD),
        (Phase.QUEUED, Phase.PENDING),
        (Phase.QUEUED, Phase.EXECUTING),
        (Phase.QUEUED, Phase.QUEUED),  # the worker hands the job to the container runner
        (Phase.EXECUTING, Phase.COMPLETED),
        (Phase.EXECUTING, Phase.ERROR), (Phase.QUEUED, Phase.ERROR),
        *((p, Phase.ABORTED) for p in (Phase.PENDING, Phase.HELD, Phase.QUEUED, Phase.EXECUTING)),
    }  # fmt: skip
    assert not any(source in FINAL for t in ALL_TRANSITIONS for source in t.sources)


def test_the_store_writes_phases_only_as_named_transitions():
    """No phase literal is set or guarded in the store: each comes from the table."""
    names = {name for name, value in vars(phases).items() if value in ALL_TRANSITIONS}
    for module in (STORE / "jobstore.py", STORE / "removal.py"):
        text = module.read_text()
        for target in re.findall(r'"phase": ([\w.]+)', text):
            assert target.split(".")[0] in names | {"end"}, f"{module.name}: {target}"
        for guard in re.findall(r"phases=([^,)\n]+)", text):
            assert guard.split(".")[0] in names | {"end", "EXECUTION_DURATION_CHANGEABLE",
                                                  "PARAMETERS_CHANGEABLE", "{phase}",
                                                  "{Phase"}, f"{module.name}: {guard}"  # fmt: skip
