"""A job type for tests: a required parameter, numbers with limits, multi-values, a file.
(TAP's own job type is tap.jobtype's.)"""

from uws.jobtypes import JobType, Parameter, register


def echo(ctx) -> None:
    """One result: the UPLOAD file's bytes if one was given, else NAME."""
    upload = ctx.read_upload("UPLOAD") if "UPLOAD" in ctx.job.uploads else None
    ctx.write_result(
        "result", upload or ctx.parameters["NAME"].encode(), "application/x-votable+xml"
    )


TESTING = register(
    JobType(
        name="testing",
        run=echo,
        parameters=(
            Parameter("NAME", required=True),
            Parameter("COUNT", type="integer", minimum=1, maximum=10),
            Parameter("TAGS", multiple=True),
            Parameter("FLAG", type="boolean"),
            Parameter("UPLOAD", type="file"),
            *(Parameter(f"P{i}") for i in range(20)),
        ),
    )
)
