"""Where a running ``make serve`` writes down its embedded AWS, so that ``make invoke`` (and
the AWS CLI) can use the same one, and only one service answers for it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .template import ROOT

STATE_FILE = ROOT / ".uws-local.json"  # where a running `make serve` tells `make invoke` its AWS


def state_file() -> Path:
    """STATE_FILE, or UWS_LOCAL_STATE's: the tests run several services at once."""
    return Path(os.environ.get("UWS_LOCAL_STATE") or STATE_FILE)


def running_service() -> dict[str, Any] | None:
    """What the `make serve` that `make invoke` should use wrote down, if it still runs."""
    try:
        state = json.loads(state_file().read_text())
        os.kill(state["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def claim_state(state: dict[str, Any]) -> bool:
    """Write down this service for `make invoke`, unless another running one did first."""
    if running_service() is not None:
        return False
    state_file().write_text(json.dumps(state))
    return True
