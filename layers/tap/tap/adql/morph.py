"""The DuckDB morphers: one table from an ADQL node or function name to a small rewrite.

As in DaCHS's ``gavo.adql`` (``morphpg``), a target is a table of morphers, not edits scattered
through a parser. ``FUNCTIONS`` maps each ADQL function to its arity and its DuckDB form;
``NODES`` maps the node types whose meaning differs. Morphers run bottom-up, so a function
sees its arguments already translated (a CONTAINS sees its POINT and CIRCLE as shapes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlglot import exp

from . import geometry as g
from . import sphere
from .errors import Located
from .sphere import Num
from .tables import Cone, Region, SkyPolygon

Args = list[exp.Expression]


def _call(name: str) -> Callable[[Args], exp.Expression]:
    return lambda args: exp.Anonymous(this=name, expressions=args)


def _shape(arg: exp.Expression, function: str) -> g.Shape:
    if not isinstance(arg, g.GeometryValue):
        raise g.GeometryError(f"{function} takes geometries (POINT, CIRCLE, BOX, POLYGON)")
    return arg.shape


def _predicate(condition: exp.Expression) -> exp.Expression:
    """1/0 (NULL for NULL positions) for the select list; the condition itself for ``= 1``."""
    as_number = exp.Cast(this=exp.Paren(this=condition), to=exp.DataType.build("INT"))
    as_number.meta["predicate"] = condition
    return as_number


@dataclass(frozen=True)
class Near:
    """A table's (ra, dec) within ``radius`` degrees of another table's: a cross-match's join,
    which narrows the table once the other's positions are known (``translate._regions``)."""

    ra_column: str
    dec_column: str
    other: str  # the other table's alias
    other_ra: str
    other_dec: str
    radius: float


Found = list[tuple[str, Region | Near]]  # by the alias of the table a region is asked of


def _contains(args: Args) -> exp.Expression:
    inner, outer = _shape(args[0], "CONTAINS"), _shape(args[1], "CONTAINS")
    condition = g.contains(inner, outer)
    regions = region_of(inner, outer) if isinstance(inner, g.Point) else []
    if regions:
        condition = exp.Paren(this=condition)
        condition.meta["regions"] = regions  # for the resolver's narrow() (translate._regions)
    return _predicate(condition)


def region_of(point: g.Point, shape: g.Shape) -> Found:
    """The regions a CONTAINS asks of tables' columns, when it is that simple."""
    if isinstance(shape, g.Circle):
        return _near(point, shape.centre, shape.radius)
    columns = _columns(point)
    if columns is not None and isinstance(shape, g.Box | g.Polygon):
        corners = g.corners(shape)
        if corners is not None:
            return [(columns[0], SkyPolygon(columns[1], columns[2], tuple(corners)))]
    return []


def _columns(point: g.Point) -> tuple[str, str, str] | None:
    """(alias, ra, dec) when a point is two columns of one table."""
    ra, dec = point.ra, point.dec
    if isinstance(ra, exp.Column) and isinstance(dec, exp.Column) and ra.table == dec.table:
        return (ra.table.lower(), ra.name, dec.name) if ra.table else None
    return None


def _near(a: g.Point, b: g.Point, radius: Num) -> Found:
    """What "a is within radius of b" asks of each table whose columns one of them is: a cone
    round the other when it is known, else (another table's columns) a cross-match. None for
    a negative radius: the SQL's haversine test takes it as its absolute value."""
    if not isinstance(radius, float) or radius < 0:
        return []
    found: Found = []
    for one, other in ((a, b), (b, a)):
        mine = _columns(one)
        if mine is None:
            continue
        alias, ra, dec = mine
        if isinstance(other.ra, float) and isinstance(other.dec, float):
            found.append((alias, Cone(ra, dec, other.ra, other.dec, radius)))
        elif (theirs := _columns(other)) is not None and theirs[0] != alias:
            found.append((alias, Near(ra, dec, *theirs, radius)))
    return found


def _bound(node: exp.Expression) -> exp.Expression:
    """``DISTANCE(p, q) < r`` (or ``r > DISTANCE(p, q)``, either with ``=``) for a number r:
    the cone or cross-match it asks, kept for narrowing like a CONTAINS's."""
    below = isinstance(node, exp.LT | exp.LTE)
    distance, bound = (node.this, node.expression) if below else (node.expression, node.this)
    points = distance.meta.get("distance") if distance._meta else None
    if points is not None:
        regions = _near(*points, sphere.number(bound))
        if regions:
            node.meta["regions"] = regions
    return node


def _intersects(args: Args) -> exp.Expression:
    return _predicate(g.intersects(_shape(args[0], "INTERSECTS"), _shape(args[1], "INTERSECTS")))


def _distance(args: Args) -> exp.Expression:
    if len(args) == 4:  # ADQL 2.1: DISTANCE(ra1, dec1, ra2, dec2)
        numbers = [sphere.number(a) for a in args]
        points = [g.Point(numbers[0], numbers[1]), g.Point(numbers[2], numbers[3])]
    else:
        points = [_shape(a, "DISTANCE") for a in args]
    if not all(isinstance(p, g.Point) for p in points):
        raise g.GeometryError("DISTANCE takes two POINTs")
    found = sphere.sql(g.distance(*points))  # type: ignore[arg-type]
    found.meta["distance"] = tuple(points)  # for a bound on it (_bound)
    return found


def _constructor(name: str) -> Callable[[Args], exp.Expression]:
    return lambda args: g.value(g.build(name, args), args[0] if args else exp.Null())


def _rand(args: Args) -> exp.Expression:
    if args:
        raise g.GeometryError("RAND with a seed is not supported: use RAND()")
    return exp.Anonymous(this="random", expressions=[])


FUNCTIONS: dict[str, tuple[int, int, Callable[[Args], exp.Expression]]] = {
    "ABS": (1, 1, _call("abs")),
    "CEILING": (1, 1, _call("ceil")),
    "DEGREES": (1, 1, _call("degrees")),
    "EXP": (1, 1, _call("exp")),
    "FLOOR": (1, 1, _call("floor")),
    "LOG": (1, 1, _call("ln")),  # ADQL's LOG is the natural logarithm; DuckDB's is base 10
    "LOG10": (1, 1, _call("log10")),
    "MOD": (2, 2, _call("mod")),
    "PI": (0, 0, _call("pi")),
    "POWER": (2, 2, _call("power")),
    "RADIANS": (1, 1, _call("radians")),
    "SQRT": (1, 1, _call("sqrt")),
    "RAND": (0, 1, _rand),
    "ROUND": (1, 2, _call("round")),
    "TRUNCATE": (1, 2, _call("trunc")),
    "SIN": (1, 1, _call("sin")),
    "COS": (1, 1, _call("cos")),
    "TAN": (1, 1, _call("tan")),
    "ASIN": (1, 1, _call("asin")),
    "ACOS": (1, 1, _call("acos")),
    "ATAN": (1, 1, _call("atan")),
    "ATAN2": (2, 2, _call("atan2")),
    "COT": (1, 1, _call("cot")),
    "LOWER": (1, 1, _call("lower")),
    "UPPER": (1, 1, _call("upper")),
    "COALESCE": (1, 99, _call("coalesce")),
    "NULLIF": (2, 2, _call("nullif")),
    "POINT": (2, 3, _constructor("POINT")),
    "CIRCLE": (2, 4, _constructor("CIRCLE")),
    "BOX": (3, 5, _constructor("BOX")),
    "POLYGON": (3, 999, _constructor("POLYGON")),
    "CONTAINS": (2, 2, _contains),
    "INTERSECTS": (2, 2, _intersects),
    "DISTANCE": (2, 4, _distance),
    "COORD1": (1, 1, lambda a: sphere.sql(g.coordinate(_shape(a[0], "COORD1"), 1))),
    "COORD2": (1, 1, lambda a: sphere.sql(g.coordinate(_shape(a[0], "COORD2"), 2))),
    "AREA": (1, 1, lambda a: sphere.sql(g.area(_shape(a[0], "AREA")))),
    "CENTROID": (1, 1, lambda a: g.value(g.centroid(_shape(a[0], "CENTROID")), a[0])),
}


def _function(node: exp.Anonymous, udfs: Mapping[str, str]) -> exp.Expression:
    name, args = node.name.upper(), list(node.expressions)
    if name in udfs:
        return exp.Anonymous(this=udfs[name], expressions=args)
    low, high, rewrite = FUNCTIONS[name]
    if not low <= len(args) <= high:
        count = str(low) if low == high else f"{low} to {high}"
        raise g.GeometryError(f"{name} takes {count} arguments, not {len(args)}")
    return rewrite(args)


def _comparison(node: exp.EQ | exp.NEQ) -> exp.Expression:
    """``1 = CONTAINS(...)`` becomes the bare condition, which DuckDB can push into a scan."""
    for one, other in ((node.this, node.expression), (node.expression, node.this)):
        condition = other.meta.get("predicate") if other._meta else None
        if condition is not None and isinstance(one, exp.Literal) and one.this in ("0", "1"):
            wanted = (one.this == "1") == isinstance(node, exp.EQ)
            return exp.Paren(this=condition) if wanted else exp.Not(this=exp.Paren(this=condition))
    return node


def _cast(node: exp.Cast) -> exp.Expression:
    """CAST(x AS CHAR(n)) cuts to n characters, as in SQL; DuckDB ignores the length."""
    to = node.to
    if to.this in (exp.DType.CHAR, exp.DType.VARCHAR) and to.expressions:
        length = to.expressions[0].this
        text = exp.Cast(this=node.this, to=exp.DataType.build("VARCHAR"))
        return exp.Anonymous(this="left", expressions=[text, length])
    return node


NODES: dict[type[exp.Expression], Callable[[exp.Expression], exp.Expression]] = {
    exp.EQ: _comparison,
    exp.NEQ: _comparison,
    exp.Cast: _cast,
    exp.LT: _bound,
    exp.LTE: _bound,
    exp.GT: _bound,
    exp.GTE: _bound,
}


def morph(tree: exp.Expression, udfs: Mapping[str, str], where: Located) -> exp.Expression:
    """Apply the morphers bottom-up; shapes left in a select list become DALI number lists."""
    for node in reversed(list(tree.walk(bfs=False))):
        try:
            if isinstance(node, exp.Anonymous):
                new = _function(node, udfs)
            elif type(node) in NODES:
                new = NODES[type(node)](node)
            else:
                continue
        except (g.GeometryError, ValueError) as error:
            raise where.error(str(error), node) from None
        if new is not node:
            new._meta = {**(node._meta or {}), **(new._meta or {})}
            if node is tree:
                tree = new
            else:
                node.replace(new)
    for node in list(tree.find_all(g.GeometryValue)):
        parent = node.parent.parent if isinstance(node.parent, exp.Alias) else node.parent
        if not isinstance(parent, exp.Select) or node.arg_key not in ("expressions", "this"):
            raise where.error("A geometry cannot be used here", node)
        try:
            node.replace(g.as_column(node.shape))
        except g.GeometryError as error:
            raise where.error(str(error), node) from None
    return tree
