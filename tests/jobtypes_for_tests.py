"""A job type for tests: a required parameter, numbers with limits, multi-values, a file."""

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


def run_adql(ctx) -> None:
    """Answer any query with a one-row VOTable, as a TAP service's async endpoint would."""
    from uws.demo import VOTABLE_MIME, votable

    ctx.check()
    fields = [("query", "char", None, str(ctx.parameters.get("QUERY", "")))]
    ctx.write_result("result", votable(fields), VOTABLE_MIME)


TAP = register(
    JobType(
        name="tap",
        description="TAP-shaped: the parameters of TAP 1.1's async endpoint, a VOTable result.",
        run=run_adql,
        parameters=(
            Parameter("REQUEST", default="doQuery"),
            Parameter("LANG", default="ADQL"),
            Parameter("QUERY", required=True),
            Parameter("VERSION"),
            Parameter("FORMAT"),
            Parameter("RESPONSEFORMAT"),
            Parameter("MAXREC", type="integer", minimum=0),
            Parameter("UPLOAD"),
        ),
    )
)
