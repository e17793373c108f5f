"""ADQL's geometry on the celestial sphere: shapes, their predicates and functions, as SQL.

ADQL 2.1 section 4.2: POINT, CIRCLE, BOX, POLYGON build values; CONTAINS and INTERSECTS return
1 or 0; DISTANCE, AREA, COORD1, COORD2, CENTROID return numbers or points; angles in degrees.
The optional first argument of a constructor (ADQL 2.0's coordinate system, 'ICRS') is read and
ignored. A BOX follows ADQL 2.0 (and STC): its sides are the great circles crossing, at right
angles, the ends of two arms of half width and half height laid from the centre along its
meridian and along the great circle perpendicular to it there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp

from . import sphere as s
from .polygon import PolygonError, area_sr, convex_piece, decompose
from .sphere import Num, Vec


class GeometryError(ValueError):
    """A geometry the translator cannot express (the message says what)."""


@dataclass(frozen=True)
class Point:
    ra: Num
    dec: Num


@dataclass(frozen=True)
class Circle:
    centre: Point
    radius: Num


@dataclass(frozen=True)
class Box:
    centre: Point
    width: Num
    height: Num


@dataclass(frozen=True)
class Polygon:
    vertices: tuple[Point, ...]


Shape = Point | Circle | Box | Polygon
XTYPES = {Point: "point", Circle: "circle", Box: "polygon", Polygon: "polygon"}


class GeometryValue(exp.Expression):
    """A geometry in the tree while its enclosing function is translated; never written."""

    arg_types: ClassVar[dict[str, bool]] = {}
    shape: Shape


def value(shape: Shape, like: exp.Expression) -> GeometryValue:
    node = GeometryValue()
    node.shape = shape
    node._meta = dict(like._meta or {})
    return node


def _unit(p: Point) -> Vec:
    return s.unit(p.ra, p.dec)


def build(name: str, args: list[exp.Expression]) -> Shape:
    """A shape from a constructor's arguments (already translated to SQL or geometry)."""
    if args and isinstance(args[0], exp.Literal) and args[0].is_string:
        args = args[1:]  # ADQL 2.0's coordinate system: read, ignored
    items: list[Num | Point] = [
        a.shape if isinstance(a, GeometryValue) else s.number(a) for a in args
    ]
    if any(isinstance(i, Circle | Box | Polygon) for i in items):
        raise GeometryError(f"{name} takes numbers or points")
    points, numbers = _split(items)
    if name == "POINT" and not points and len(numbers) == 2:
        return Point(*numbers)
    if name == "CIRCLE":
        if len(points) == 1 and len(numbers) == 1:
            return Circle(points[0], numbers[0])
        if not points and len(numbers) == 3:
            return Circle(Point(numbers[0], numbers[1]), numbers[2])
    if name == "BOX":
        if len(points) == 1 and len(numbers) == 2:
            return Box(points[0], *numbers)
        if not points and len(numbers) == 4:
            return Box(Point(numbers[0], numbers[1]), numbers[2], numbers[3])
    if name == "POLYGON":
        if not numbers and len(points) >= 3:
            return Polygon(tuple(points))
        if not points and len(numbers) >= 6 and len(numbers) % 2 == 0:
            pairs = zip(numbers[::2], numbers[1::2], strict=True)
            return Polygon(tuple(Point(ra, dec) for ra, dec in pairs))
    usage = {
        "POINT": "POINT(ra, dec)",
        "CIRCLE": "CIRCLE(ra, dec, radius) or CIRCLE(point, radius)",
        "BOX": "BOX(ra, dec, width, height) or BOX(point, width, height)",
        "POLYGON": "POLYGON(ra1, dec1, ra2, dec2, ra3, dec3, ...) or POLYGON(point1, point2, ...)",
    }
    raise GeometryError(f"Wrong arguments: {usage[name]} expected")


def _split(items: list[Num | Point]) -> tuple[list[Point], list[Num]]:
    return [i for i in items if isinstance(i, Point)], [
        i for i in items if not isinstance(i, Point)
    ]


def _known_vertices(shape: Box | Polygon) -> list[tuple[float, float, float]] | None:
    """A polygon's or box's corners as unit vectors when all are known while translating."""
    if isinstance(shape, Polygon):
        vectors = [s.known(_unit(v)) for v in shape.vertices]
        return None if any(v is None for v in vectors) else vectors  # type: ignore[return-value]
    normals = _box_normals(shape)
    if any(s.known(n) is None for n in normals) or s.known(_unit(shape.centre)) is None:
        return None
    centre = s.known(_unit(shape.centre))
    corners = []
    for a, b in ((0, 2), (2, 1), (1, 3), (3, 0)):
        c = s.normalised(s.cross(normals[a], normals[b]))  # type: ignore[arg-type]
        corners.append(c if s.dot(c, centre) > 0 else (-c[0], -c[1], -c[2]))
    return corners  # type: ignore[return-value]


def _box_normals(box: Box) -> list[Vec]:
    """Inner normals of the box's sides: east, west, north, south."""
    ra, dec = s.mul(box.centre.ra, s.DEG), s.mul(box.centre.dec, s.DEG)
    centre = _unit(box.centre)
    east: Vec = (s.sub(0.0, s.call("sin", ra)), s.call("cos", ra), 0.0)
    sin_d = s.call("sin", dec)
    north: Vec = (
        s.sub(0.0, s.mul(sin_d, s.call("cos", ra))),
        s.sub(0.0, s.mul(sin_d, s.call("sin", ra))),
        s.call("cos", dec),
    )
    normals = []
    for half, axis in ((s.mul(box.width, s.DEG / 2), east), (s.mul(box.height, s.DEG / 2), north)):
        along, across = s.scale(s.call("sin", half), centre), s.call("cos", half)
        normals.append(s.plus(along, s.scale(s.sub(0.0, across), axis)))
        normals.append(s.plus(along, s.scale(across, axis)))
    return [normals[0], normals[1], normals[2], normals[3]]


def inside(point: Point, shape: Shape) -> exp.Expression:
    """The SQL condition that a point lies in a circle, box or polygon (edges included)."""
    p = _unit(point)
    if isinstance(shape, Circle):
        c = shape.centre
        test = s.at_least(s.sin2_half(shape.radius), s.haversine(point.ra, point.dec, c.ra, c.dec))
        if isinstance(point.dec, exp.Column) and all(
            isinstance(v, float) for v in (c.dec, shape.radius)
        ):
            low, high = c.dec - shape.radius, c.dec + shape.radius  # type: ignore[operator]
            band = exp.Between(this=point.dec.copy(), low=s.sql(low), high=s.sql(high))
            return s.all_of([band, test])  # lets DuckDB skip row groups by dec
        return test
    if isinstance(shape, Box):
        return s.all_of([s.at_least(s.dot(n, p), 0.0) for n in _box_normals(shape)])
    if isinstance(shape, Polygon):
        vertices = _known_vertices(shape)
        if vertices is not None:
            try:
                pieces = [convex_piece(v) for v in decompose(vertices)]
            except PolygonError as error:
                raise GeometryError(str(error)) from None
            return s.any_of(
                [s.all_of([s.at_least(s.dot(n, p), 0.0) for n in c.normals]) for c in pieces]
            )
        return _inside_convex(p, [_unit(v) for v in shape.vertices])
    raise GeometryError("Nothing is inside a POINT: CONTAINS(POINT, POINT) is not defined")


def _inside_convex(p: Vec, vertices: list[Vec]) -> exp.Expression:
    """A polygon given by column values: taken as convex, of either orientation."""
    sides = [s.dot(s.cross(vertices[i - 1], vertices[i]), p) for i in range(len(vertices))]
    centre = vertices[0]
    for v in vertices[1:]:
        centre = s.plus(centre, v)
    left = s.all_of([s.at_least(side, 0.0) for side in sides])
    right = s.all_of([s.at_least(0.0, side) for side in sides])
    return s.all_of(
        [s.any_of([left, right]), exp.GT(this=s.sql(s.dot(p, centre)), expression=s.sql(0.0))]
    )


def distance(a: Point, b: Point) -> Num:
    return s.distance(a.ra, a.dec, b.ra, b.dec)


def contains(inner: Shape, outer: Shape) -> exp.Expression:
    """CONTAINS(inner, outer) as a condition."""
    if isinstance(inner, Point):
        return inside(inner, outer)
    if isinstance(inner, Circle) and isinstance(outer, Circle):
        room = s.sub(outer.radius, inner.radius)
        return s.at_least(room, distance(inner.centre, outer.centre))
    if isinstance(inner, Box | Polygon) and isinstance(outer, Circle):
        vertices = _known_vertices(inner)
        if vertices is not None:
            return s.all_of([inside(_point(v), outer) for v in vertices])
    kinds = f"{type(inner).__name__.upper()} in a {type(outer).__name__.upper()}"
    raise GeometryError(f"CONTAINS of a {kinds} is not supported")


def corners(shape: Box | Polygon) -> list[tuple[float, float]] | None:
    """A box's or polygon's vertices in degrees, when known while translating."""
    vertices = _known_vertices(shape)
    if vertices is None:
        return None
    return [(p.ra, p.dec) for p in map(_point, vertices)]  # type: ignore[misc]


def _point(v: tuple[float, float, float]) -> Point:
    return Point(
        math.degrees(math.atan2(v[1], v[0])) % 360, math.degrees(math.asin(max(-1, min(1, v[2]))))
    )


def intersects(a: Shape, b: Shape) -> exp.Expression:
    """INTERSECTS(a, b) as a condition."""
    if isinstance(b, Point):
        a, b = b, a
    if isinstance(a, Point):
        return inside(a, b)
    if isinstance(a, Circle) and isinstance(b, Circle):
        return s.at_least(s.add(a.radius, b.radius), distance(a.centre, b.centre))
    if isinstance(b, Circle):
        a, b = b, a
    if isinstance(a, Circle) and isinstance(b, Box | Polygon):
        vertices = _known_vertices(b)
        if vertices is not None:
            return _circle_meets_polygon(a, b, vertices)
    kinds = f"a {type(a).__name__.upper()} and a {type(b).__name__.upper()}"
    raise GeometryError(f"INTERSECTS of {kinds} is not supported")


def _circle_meets_polygon(circle: Circle, shape: Shape, vertices: list) -> exp.Expression:
    """Centre inside, a corner inside the circle, or an edge passing within the radius."""
    p = _unit(circle.centre)
    polygon = shape if isinstance(shape, Polygon) else Polygon(tuple(_point(v) for v in vertices))
    ways = [inside(circle.centre, polygon)]
    ways += [inside(_point(v), circle) for v in vertices]
    reach = s.call("sin", s.mul(circle.radius, s.DEG))
    for a, b in zip(vertices, vertices[1:] + vertices[:1], strict=True):
        n = s.normalised(s.cross(a, b))
        off = s.dot(n, p)
        ways.append(
            s.all_of(
                [
                    s.at_least(reach, off),
                    s.at_least(s.add(reach, off), 0.0),
                    s.at_least(s.dot(s.cross(n, a), p), 0.0),
                    s.at_least(s.dot(s.cross(b, n), p), 0.0),
                ]
            )
        )
    return s.any_of(ways)


def area(shape: Shape) -> Num:
    """Area in square degrees."""
    square_deg = (180 / math.pi) ** 2
    if isinstance(shape, Point):
        return 0.0
    if isinstance(shape, Circle):
        return s.mul(s.sin2_half(shape.radius), 4 * math.pi * square_deg)
    vertices = _known_vertices(shape)
    if vertices is None:
        raise GeometryError("AREA of a BOX or POLYGON needs vertices known in the query")
    try:
        return area_sr(vertices) * square_deg
    except PolygonError as error:
        raise GeometryError(str(error)) from None


def coordinate(shape: Shape, which: int) -> Num:
    if not isinstance(shape, Point):
        raise GeometryError(f"COORD{which} takes a POINT")
    return shape.ra if which == 1 else shape.dec


def centroid(shape: Shape) -> Point:
    if isinstance(shape, Point):
        return shape
    if isinstance(shape, Circle | Box):
        return shape.centre
    raise GeometryError("CENTROID of a POLYGON is not supported")


def as_column(shape: Shape) -> exp.Expression:
    """A shape selected as a result column: DALI's numbers as a DuckDB list of doubles."""
    if isinstance(shape, Point):
        numbers = [shape.ra, shape.dec]
    elif isinstance(shape, Circle):
        numbers = [shape.centre.ra, shape.centre.dec, shape.radius]
    else:
        vertices = _known_vertices(shape) if isinstance(shape, Box) else None
        if isinstance(shape, Box) and vertices is None:
            raise GeometryError("A BOX selected as a column needs its arguments known in the query")
        points = [_point(v) for v in vertices] if vertices is not None else shape.vertices  # type: ignore[union-attr]
        numbers = [n for p in points for n in (p.ra, p.dec)]
    items = [exp.Cast(this=s.sql(n), to=exp.DataType.build("DOUBLE")) for n in numbers]
    return exp.Array(expressions=items)
