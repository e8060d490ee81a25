from __future__ import annotations

import pytest

from streetwatch.expressions import Expression, ExpressionError


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("relay_on and power_w < 5", {"relay_on": 1, "power_w": 0.4}, True),
        ("relay_on and power_w < 5", {"relay_on": 0, "power_w": 0.4}, False),
        ("relay_on and power_w < 5", {"relay_on": 1, "power_w": 80}, False),
        ("mounting_height_mm - distance_mm", {"mounting_height_mm": 3000, "distance_mm": 2200}, 800),
        ("dissolved_oxygen_mg_l < 2 or ammonia_nitrogen_mg_l > 2",
         {"dissolved_oxygen_mg_l": 5.0, "ammonia_nitrogen_mg_l": 2.4}, True),
        ("0 <= x < 10", {"x": 10}, False),
        ("not (a > b)", {"a": 1, "b": 2}, True),
        ("abs(a - b) > 3", {"a": 1, "b": 5}, True),
        ("x / y", {"x": 1, "y": 0}, pytest.approx(float("nan"), nan_ok=True)),
    ],
)
def test_evaluate(text: str, values: dict[str, float], expected: object) -> None:
    assert Expression.parse(text).evaluate(values) == expected


@pytest.mark.parametrize(
    "text", ["__import__('os').system('x')", "a.b", "[1, 2]", "x if y else z", "lambda: 1", "open('f')",
             "'text'", "a[0]", "f(x)"],
)
def test_refuses_anything_else(text: str) -> None:
    with pytest.raises(ExpressionError, match="not allowed"):
        Expression.parse(text)


def test_missing_value_names_it() -> None:
    with pytest.raises(ExpressionError, match="no value for power_w"):
        Expression.parse("relay_on and power_w < 5").evaluate({"relay_on": 1})


def test_syntax_error_is_ours() -> None:
    with pytest.raises(ExpressionError, match="cannot parse"):
        Expression.parse("a <")


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("a < b < c", {"a": 1, "b": 2, "c": 3}, True),
        ("a < b < c", {"a": 1, "b": 3, "c": 2}, False),
        ("a or b and not c", {"a": 0, "b": 1, "c": 0}, True),
        ("-a ** 2 + b % 3 - c // 2", {"a": 3, "b": 7, "c": 5}, -10),
        ("+a", {"a": 2.5}, 2.5),
        ("true and not false", {}, True),
        ("min(a, b, 3) + max(a, b) + round(c)", {"a": 1, "b": 2, "c": 2.6}, 6),
        ("(a > 1) == (b > 1)", {"a": 2, "b": 0}, False),
        ("a != b", {"a": 1, "b": 1}, False),
    ],
)
def test_evaluate_more(text: str, values: dict[str, float], expected: object) -> None:
    assert Expression.parse(text).evaluate(values) == expected


def test_an_expression_is_reusable() -> None:
    expr = Expression.parse("x * 2 > y")
    assert [expr.evaluate({"x": x, "y": 3}) for x in (1, 2, 3)] == [False, True, True]
