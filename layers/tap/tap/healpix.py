"""Which nested HEALPix cells a cone or polygon may touch, in plain Python.

HATS catalogues are cut by nested HEALPix cells and index each row by its cell at order 29
(``_healpix_29``), so a positional constraint becomes a set of order-29 index ranges: these
choose the partition files and the row groups DuckDB reads. ``cdshealpix`` would compute them,
but it imports astropy and numpy (tens of megabytes, 0.4 s of cold start), so the few formulas
needed are here (Górski et al. 2005; the pixel geometry of HEALPix C++'s ``xyf2loc``).

The answer is a superset, never a subset: a cell is kept when a cap bounding it meets the
region, so a row inside the region is never lost; the query's own constraint removes the rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Vector = tuple[float, float, float]
Ranges = list[tuple[int, int]]  # inclusive, sorted, disjoint

ORDER = 29  # the order of the index column
MAX_DEPTH = 24  # cells of 0.01 arcsec: finer ranges would not skip more
_JRLL = (2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4)  # the base cells' ring numbers
_JPLL = (1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7)  # and their longitudes in units of 45°
# The cap bounding a cell: its centre's largest distance to the corners and the edges'
# midpoints, stretched by this factor (the edges bulge between them; 1.1 is ample: the unit
# tests sample cells' interiors at every latitude).
_SLACK = 1.1


def vector(ra: float, dec: float) -> Vector:
    """The unit vector of a position in degrees."""
    a, d = math.radians(ra), math.radians(dec)
    return (math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d))


def _face_point(face: int, x: float, y: float) -> Vector:
    """The point at (x, y), each in [0, 1], across base cell ``face`` (HEALPix's xyf2loc)."""
    jr = _JRLL[face] - x - y
    if jr < 1:  # north polar cap
        nr, t = jr, jr * jr / 3
        z, sin2 = 1 - t, t * (2 - t)
    elif jr > 3:  # south polar cap
        nr = 4 - jr
        t = nr * nr / 3
        z, sin2 = t - 1, t * (2 - t)
    else:
        nr, z = 1.0, (2 - jr) * 2 / 3
        sin2 = (1 - z) * (1 + z)
    phi = 0.0 if nr < 1e-15 else math.pi / 4 * ((_JPLL[face] * nr + x - y) % 8) / nr
    s = math.sqrt(max(sin2, 0.0))
    return (s * math.cos(phi), s * math.sin(phi), z)


def angle(a: Vector, b: Vector) -> float:
    """The angle between two unit vectors, in radians (accurate at any size)."""
    cross = _cross(a, b)
    return math.atan2(math.sqrt(_dot(cross, cross)), _dot(a, b))


def _dot(a: Vector, b: Vector) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a: Vector, b: Vector) -> Vector:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _normal(a: Vector, b: Vector) -> Vector:
    n = _cross(a, b)
    length = math.sqrt(_dot(n, n)) or 1.0
    return (n[0] / length, n[1] / length, n[2] / length)


def cell_cap(order: int, face: int, ix: int, iy: int) -> tuple[Vector, float]:
    """The centre of a cell and the radius (radians) of a cap that holds all of it."""
    n = 1 << order
    centre = _face_point(face, (ix + 0.5) / n, (iy + 0.5) / n)
    edge = [(0, 0), (0.5, 0), (1, 0), (1, 0.5), (1, 1), (0.5, 1), (0, 1), (0, 0.5)]
    radius = max(angle(centre, _face_point(face, (ix + u) / n, (iy + v) / n)) for u, v in edge)
    return centre, radius * _SLACK


class Region:
    """A region of the sky as the descent sees it: does a cap meet it, or lie inside it."""

    size: float  # radians: how large the region is (the descent's depth follows it)

    def meets(self, centre: Vector, radius: float) -> bool:
        raise NotImplementedError

    def holds(self, centre: Vector, radius: float) -> bool:
        raise NotImplementedError

    def within(self, centre: Vector, radius: float) -> Region | None:
        """What of the region may meet a cap, for the cells inside it: None when nothing."""
        return self if self.meets(centre, radius) else None


class ConeRegion(Region):
    def __init__(self, ra: float, dec: float, radius: float) -> None:
        self.centre = vector(ra, dec)
        self.radius = math.radians(radius)
        self.size = self.radius

    def meets(self, centre: Vector, radius: float) -> bool:
        return angle(centre, self.centre) <= self.radius + radius

    def holds(self, centre: Vector, radius: float) -> bool:
        return angle(centre, self.centre) + radius <= self.radius


class PolygonRegion(Region):
    """The smaller region great-circle edges bound; None-like (everything) past a hemisphere."""

    def __init__(self, vertices: Sequence[tuple[float, float]]) -> None:
        self.vertices = [vector(ra, dec) for ra, dec in vertices]
        total = [sum(v[i] for v in self.vertices) for i in range(3)]
        length = math.sqrt(sum(t * t for t in total)) or 1.0
        self.centre: Vector = (total[0] / length, total[1] / length, total[2] / length)
        self.size = max(angle(self.centre, v) for v in self.vertices)
        self.edges = list(zip(self.vertices, self.vertices[1:] + self.vertices[:1], strict=True))
        self.normals = [_normal(a, b) for a, b in self.edges]

    @property
    def bounded(self) -> bool:
        """Whether the vertices lie within a cap under a hemisphere (else: no narrowing)."""
        return len(self.vertices) >= 3 and self.size < math.pi / 2 - 1e-9

    def inside(self, p: Vector) -> bool:
        """Whether ``p`` is in the polygon: in its cap, and wound round by its edges."""
        if angle(p, self.centre) > self.size:
            return False
        turned = 0.0
        for a, b in self.edges:
            ta = [a[i] - p[i] * _dot(p, a) for i in range(3)]
            tb = [b[i] - p[i] * _dot(p, b) for i in range(3)]
            cross = _cross((ta[0], ta[1], ta[2]), (tb[0], tb[1], tb[2]))
            turned += math.atan2(_dot(p, cross), sum(ta[i] * tb[i] for i in range(3)))
        return abs(turned) > math.pi

    def _edge_distance(self, p: Vector) -> float:
        """The angle from ``p`` to the nearest point of any edge."""
        nearest = math.pi
        for (a, b), n in zip(self.edges, self.normals, strict=True):
            d = _dot(p, n)
            foot = (p[0] - d * n[0], p[1] - d * n[1], p[2] - d * n[2])
            if _dot(_cross(a, foot), n) >= 0 and _dot(_cross(foot, b), n) >= 0:
                nearest = min(nearest, math.asin(min(1.0, abs(d))))
            else:
                nearest = min(nearest, angle(p, a), angle(p, b))
        return nearest

    def meets(self, centre: Vector, radius: float) -> bool:
        return self.inside(centre) or self._edge_distance(centre) <= radius

    def holds(self, centre: Vector, radius: float) -> bool:
        return self.inside(centre) and self._edge_distance(centre) > radius


class ConesRegion(Region):
    """Within ``radius`` of any of many positions (an uploaded table cross-matched): cones.

    Up to ``MAX_CONES`` positions are a cone each; more are first gathered on a grid (cells
    about the radius wide, four times wider until few enough) into one cone per cell
    holding its positions: a large upload costs a few passes and a bounded descent. Each cell
    of the descent hands its children only the cones that meet it."""

    MAX_CONES = 256

    def __init__(self, centres: Sequence[tuple[float, float]], radius: float) -> None:
        self.cones = _gathered(list(centres), radius, self.MAX_CONES)
        self.size = max((r for _, r in self.cones), default=0.0)

    @classmethod
    def _of(cls, cones: list[tuple[Vector, float]]) -> ConesRegion:
        region = cls.__new__(cls)
        region.cones, region.size = cones, max(r for _, r in cones)
        return region

    def meets(self, centre: Vector, radius: float) -> bool:
        return any(angle(centre, c) <= r + radius for c, r in self.cones)

    def holds(self, centre: Vector, radius: float) -> bool:
        return any(angle(centre, c) + radius <= r for c, r in self.cones)

    def within(self, centre: Vector, radius: float) -> Region | None:
        near = [(c, r) for c, r in self.cones if angle(centre, c) <= r + radius]
        return ConesRegion._of(near) if near else None


def _gathered(
    centres: list[tuple[float, float]], radius: float, most: int
) -> list[tuple[Vector, float]]:
    """Cones (centre, radius in radians) holding every position's cone: at most ``most``."""
    points = [(ra, dec) for ra, dec in centres if math.isfinite(ra) and math.isfinite(dec)]
    r = math.radians(radius)
    if len(set(points)) <= most:
        return [(vector(ra, dec), r) for ra, dec in set(points)]
    vectors = [vector(ra, dec) for ra, dec in points]
    step = max(radius, 1e-3)
    while True:  # cells about ``step`` wide, four times wider until few enough
        cells: dict[tuple[int, int], list[Vector]] = {}
        for (ra, dec), v in zip(points, vectors, strict=True):
            band = math.floor((dec + 90) / step)
            width = step / max(math.cos(math.radians(min(90.0, (band + 0.5) * step - 90))), 1e-9)
            cells.setdefault((band, math.floor(ra % 360 / width)), []).append(v)
        if len(cells) <= most:
            break
        step *= 4
    cones = []
    for members in cells.values():
        total = [sum(v[i] for v in members) for i in range(3)]
        length = math.sqrt(sum(t * t for t in total)) or 1.0
        centre: Vector = (total[0] / length, total[1] / length, total[2] / length)
        cones.append((centre, max(angle(centre, v) for v in members) + r))
    return cones


def depth_for(region: Region, floor: int = 0) -> int:
    """The order the descent stops at: cells about a quarter of the region's size, and at
    least ``floor`` (the catalogue's deepest partitions, so partitions are chosen exactly)."""
    cell = max(region.size, 1e-9) / 4
    order = math.ceil(math.log2(math.radians(58.63) / cell)) if cell < 1 else 0
    return max(0, min(MAX_DEPTH, max(order, floor)))


def coverage(region: Region, depth: int) -> Ranges:
    """Order-29 index ranges of every cell down to ``depth`` that may touch the region."""
    found: Ranges = []
    # (face, ix, iy, nested index, what of the region may meet the cell)
    level: list[tuple[int, int, int, int, Region]] = [(f, 0, 0, f, region) for f in range(12)]
    for order in range(depth + 1):
        shift = 2 * (ORDER - order)
        deeper = []
        for face, ix, iy, pix, whole in level:
            centre, radius = cell_cap(order, face, ix, iy)
            part = whole.within(centre, radius)
            if part is None:
                continue
            if order == depth or part.holds(centre, radius):
                found.append((pix << shift, ((pix + 1) << shift) - 1))
                continue
            for child in range(4):
                dx, dy = child & 1, child >> 1
                deeper.append((face, 2 * ix + dx, 2 * iy + dy, 4 * pix + child, part))
        level = deeper
    return merge(found)


def merge(ranges: Ranges) -> Ranges:
    """Sorted, with touching and overlapping ranges joined."""
    merged: Ranges = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """The ranges in both (each sorted and disjoint)."""
    out: Ranges = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def cell_range(order: int, pix: int) -> tuple[int, int]:
    """The order-29 indices a cell of ``order`` holds."""
    shift = 2 * (ORDER - order)
    return pix << shift, ((pix + 1) << shift) - 1
