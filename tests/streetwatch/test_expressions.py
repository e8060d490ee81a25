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
