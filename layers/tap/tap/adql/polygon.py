"""Polygons known while translating: their inside as convex pieces, and their area.

A spherical polygon with great-circle edges becomes a plane polygon with straight edges in the
gnomonic projection about its centre (great circles project to straight lines), so the plane's
ear clipping splits it into triangles whose edges are great-circle arcs too. A point is inside
the polygon when it is inside one piece, and inside a convex piece when it is on the inner side
of every edge's great circle: a few dot products per row, whatever the polygon's shape.
The inside is the bounded side, which limits polygons to less than a hemisphere (as pg_sphere).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from .sphere import normalised

V3 = tuple[float, float, float]


class PolygonError(ValueError):
    """A polygon the translator cannot make a region of (said in the message)."""


def _dot(u: V3, v: V3) -> float:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _cross(u: V3, v: V3) -> V3:
    return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])


def _turn(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


@dataclass(frozen=True)
class ConvexPiece:
    """Inner normals of a convex spherical polygon: p is inside iff n . p >= 0 for each n."""

    normals: tuple[V3, ...]


def _project(vertices: list[V3]) -> tuple[list[tuple[float, float]], V3]:
    centre = normalised(tuple(sum(v[i] for v in vertices) for i in range(3)))  # type: ignore[arg-type]
    if any(_dot(v, centre) <= 1e-9 for v in vertices):
        raise PolygonError("A polygon must lie within a hemisphere")
    pole = (0.0, 0.0, 1.0) if abs(centre[2]) < 0.9 else (1.0, 0.0, 0.0)
    east = normalised(_cross(pole, centre))
    north = _cross(centre, east)
    plane = [(_dot(v, east) / _dot(v, centre), _dot(v, north) / _dot(v, centre)) for v in vertices]
    return plane, centre


def _segments_cross(p, q, r, s) -> bool:
    d1, d2 = _turn(p, q, r), _turn(p, q, s)
    d3, d4 = _turn(r, s, p), _turn(r, s, q)
    return (d1 > 0) != (d2 > 0) and (d3 > 0) != (d4 > 0) and d1 * d2 < 0 and d3 * d4 < 0


def _check_simple(plane: list[tuple[float, float]]) -> None:
    n = len(plane)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            if _segments_cross(plane[i], plane[(i + 1) % n], plane[j], plane[(j + 1) % n]):
                raise PolygonError("The edges of a polygon must not cross")


def _triangles(plane: list[tuple[float, float]]) -> list[tuple[int, int, int]]:
    """Ear clipping of a counter-clockwise simple plane polygon."""
    left = list(range(len(plane)))
    found: list[tuple[int, int, int]] = []
    while len(left) > 3:
        for k in range(len(left)):
            a, b, c = left[k - 1], left[k], left[(k + 1) % len(left)]
            if _turn(plane[a], plane[b], plane[c]) <= 0:
                continue
            others = (plane[i] for i in left if i not in (a, b, c))
            if any(
                _turn(plane[a], plane[b], p) >= 0
                and _turn(plane[b], plane[c], p) >= 0
                and _turn(plane[c], plane[a], p) >= 0
                for p in others
            ):
                continue
            found.append((a, b, c))
            del left[k]
            break
        else:
            raise PolygonError("A polygon's vertices must not repeat or lie on one line")
    found.append((left[0], left[1], left[2]))
    return found


def decompose(vertices: list[V3]) -> list[list[V3]]:
    """Convex pieces (vertex lists, counter-clockwise seen from outside) covering the polygon."""
    if len(vertices) < 3:
        raise PolygonError("A polygon needs at least three vertices")
    plane, _ = _project(vertices)
    area2 = sum(_turn((0.0, 0.0), plane[i - 1], plane[i]) for i in range(len(plane)))
    if abs(area2) < 1e-18:
        raise PolygonError("A polygon must enclose an area")
    if area2 < 0:
        vertices, plane = vertices[::-1], plane[::-1]
    _check_simple(plane)
    n = len(plane)
    if all(_turn(plane[i - 2], plane[i - 1], plane[i]) > 0 for i in range(n)):
        return [vertices]
    return [[vertices[i] for i in tri] for tri in _triangles(plane)]


def convex_piece(vertices: list[V3]) -> ConvexPiece:
    """The inner normals of a convex piece's edges: each points to the piece's centre."""
    centre = tuple(sum(v[i] for v in vertices) for i in range(3))
    normals = []
    for i in range(len(vertices)):
        n = normalised(_cross(vertices[i - 1], vertices[i]))
        normals.append(n if _dot(n, centre) > 0 else (-n[0], -n[1], -n[2]))  # type: ignore[arg-type]
    return ConvexPiece(tuple(normals))


def area_sr(vertices: list[V3]) -> float:
    """Area in steradians, summing triangle excesses (Oosterom and Strackee's formula)."""
    total = 0.0
    for piece in decompose(vertices):
        a = piece[0]
        for b, c in itertools.pairwise(piece[1:]):
            numerator = abs(_dot(a, _cross(b, c)))
            denominator = 1 + _dot(a, b) + _dot(b, c) + _dot(c, a)
            total += 2 * math.atan2(numerator, denominator)
    return total
