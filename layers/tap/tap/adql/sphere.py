"""Geometry on the unit sphere as SQL DuckDB runs: no pg_sphere, no spatial extension.

Values are ``Num``: a Python float when known while translating, else a sqlglot expression.
Every operation folds floats in Python, so a literal CIRCLE or POLYGON costs the query a few
constants and a column-valued one the same formulas written out in SQL. Positions are unit
vectors; a region is a set of half-spaces ``n . p >= 0`` (a great circle and a side of it),
which is exact for great-circle edges and cheap per row.
"""

from __future__ import annotations

import math
import operator

from sqlglot import exp

Num = float | exp.Expression
Vec = tuple[Num, Num, Num]
DEG = math.pi / 180


def sql(value: Num) -> exp.Expression:
    """A value as SQL: floats as DOUBLE literals, expressions parenthesised unless atomic."""
    if isinstance(value, exp.Column | exp.Literal | exp.Paren | exp.Func):
        return value
    if isinstance(value, exp.Expression):  # a user's ``dec + 2``: kept whole inside ours
        return exp.Paren(this=value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    if value < 0:
        return exp.Paren(this=exp.Neg(this=sql(-value)))
    text = repr(float(value))
    return exp.Literal.number(text if "e" in text else f"{text}e0")  # a DOUBLE, not a DECIMAL


def _binary(kind: type[exp.Binary], a: Num, b: Num) -> exp.Expression:
    return exp.Paren(this=kind(this=sql(a), expression=sql(b)))


def add(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return a + b
    if isinstance(a, float) and a == 0:
        return b
    if isinstance(b, float) and b == 0:
        return a
    return _binary(exp.Add, a, b)


def sub(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return a - b
    if isinstance(b, float) and b == 0:
        return a
    return _binary(exp.Sub, a, b)


def mul(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return a * b
    for one, other in ((a, b), (b, a)):
        if isinstance(one, float) and one == 0:
            return 0.0
        if isinstance(one, float) and one == 1:
            return other
    return _binary(exp.Mul, a, b)


def div(a: Num, b: Num) -> Num:
    if isinstance(a, float) and isinstance(b, float):
        return a / b
    return _binary(exp.Div, a, b)


def call(name: str, *args: Num) -> Num:
    """A math function: folded with Python's ``math`` when every argument is known."""
    if all(isinstance(a, float) for a in args):
        return getattr(math, name)(*args)
    return exp.Anonymous(this=name, expressions=[sql(a) for a in args])


def number(value: exp.Expression) -> Num:
    """A float for a numeric literal (signed or not) or arithmetic of them (a radius of
    ``1.0/3600``, an arcsecond, is how astronomers write one), else the expression itself."""
    if isinstance(value, exp.Literal) and not value.is_string:
        return float(value.this)
    if isinstance(value, exp.Neg | exp.Paren):
        inner = number(value.this)
        if not isinstance(inner, float):
            return value
        return -inner if isinstance(value, exp.Neg) else inner
    operation = _ARITHMETIC.get(type(value))
    if operation is not None:
        left, right = number(value.this), number(value.expression)
        if isinstance(left, float) and isinstance(right, float):
            if isinstance(value, exp.Div) and right == 0:
                return value  # DuckDB's answer (NULL or an error), not ours
            return operation(left, right)
    return value


_ARITHMETIC = {
    exp.Add: operator.add,
    exp.Sub: operator.sub,
    exp.Mul: operator.mul,
    exp.Div: operator.truediv,
}


def unit(ra: Num, dec: Num) -> Vec:
    """The unit vector of a position given in degrees."""
    a, d = mul(ra, DEG), mul(dec, DEG)
    cos_d = call("cos", d)
    return (mul(cos_d, call("cos", a)), mul(cos_d, call("sin", a)), call("sin", d))


def dot(u: Vec, v: Vec) -> Num:
    return add(add(mul(u[0], v[0]), mul(u[1], v[1])), mul(u[2], v[2]))


def cross(u: Vec, v: Vec) -> Vec:
    return (
        sub(mul(u[1], v[2]), mul(u[2], v[1])),
        sub(mul(u[2], v[0]), mul(u[0], v[2])),
        sub(mul(u[0], v[1]), mul(u[1], v[0])),
    )


def scale(k: Num, v: Vec) -> Vec:
    return (mul(k, v[0]), mul(k, v[1]), mul(k, v[2]))


def plus(u: Vec, v: Vec) -> Vec:
    return (add(u[0], v[0]), add(u[1], v[1]), add(u[2], v[2]))


def known(v: Vec) -> tuple[float, float, float] | None:
    """The vector's floats when all three are known while translating."""
    return v if all(isinstance(c, float) for c in v) else None  # type: ignore[return-value]


def normalised(v: tuple[float, float, float]) -> tuple[float, float, float]:
    norm = math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
    return (v[0] / norm, v[1] / norm, v[2] / norm)


def sin2_half(angle_deg: Num) -> Num:
    """sin^2(angle/2): the haversine, monotonic on [0, 180] and exact for tiny angles."""
    s = call("sin", mul(angle_deg, DEG / 2))
    return mul(s, s)


def haversine(ra1: Num, dec1: Num, ra2: Num, dec2: Num) -> Num:
    """sin^2(d/2) of the great-circle distance d: what a cone test compares, with no inverse."""
    cos_both = mul(call("cos", mul(dec1, DEG)), call("cos", mul(dec2, DEG)))
    return add(sin2_half(sub(dec2, dec1)), mul(cos_both, sin2_half(sub(ra2, ra1))))


def distance(ra1: Num, dec1: Num, ra2: Num, dec2: Num) -> Num:
    """Great-circle distance in degrees (Vincenty's atan2 form: good from 0 to 180 degrees)."""
    d1, d2, da = mul(dec1, DEG), mul(dec2, DEG), mul(sub(ra2, ra1), DEG)
    s1, c1, s2, c2 = call("sin", d1), call("cos", d1), call("sin", d2), call("cos", d2)
    sa, ca = call("sin", da), call("cos", da)
    x = mul(c2, sa)
    y = sub(mul(c1, s2), mul(mul(s1, c2), ca))
    z = add(mul(s1, s2), mul(mul(c1, c2), ca))
    across = call("sqrt", add(mul(x, x), mul(y, y)))
    return mul(call("atan2", across, z), 1 / DEG)


def at_least(value: Num, bound: Num) -> exp.Expression:
    """``value >= bound`` as SQL (a known comparison becomes TRUE or FALSE)."""
    if isinstance(value, float) and isinstance(bound, float):
        return exp.true() if value >= bound else exp.false()
    return exp.GTE(this=sql(value), expression=sql(bound))


def all_of(conditions: list[exp.Expression]) -> exp.Expression:
    return (
        exp.Paren(this=exp.and_(*conditions, copy=False)) if len(conditions) > 1 else conditions[0]
    )


def any_of(conditions: list[exp.Expression]) -> exp.Expression:
    return (
        exp.Paren(this=exp.or_(*conditions, copy=False)) if len(conditions) > 1 else conditions[0]
    )
