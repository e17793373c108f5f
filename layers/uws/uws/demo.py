"""The reference job type ``demo``: for trying and testing the service (see UWS.md)."""

from __future__ import annotations

from .jobtypes import JobType, Parameter, register

DEMO = register(
    JobType(
        name="demo",
        description="Works DURATION seconds, then writes a one-row VOTable of what it got.",
        parameters=(
            Parameter(
                "DURATION",
                type="float",
                default="0",
                minimum=0,
                maximum=86400,
                description="Seconds of simulated work, checked for abort every 0.1 s.",
            ),
            Parameter("FAIL", description="If given, the job ends in ERROR with this message."),
            Parameter("TEXT", description="Copied into the result."),
        ),
    )
)
