"""A job type for tests: a required parameter, numbers with limits, multi-values, a file."""

from uws.jobtypes import JobType, Parameter, register

TESTING = register(
    JobType(
        name="testing",
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
