from __future__ import annotations

import pytest

from streetwatch.expressions import Expression, ExpressionBudgetError, ExpressionError


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


# -- limits (issue #15): no expression text can block the event loop or exhaust the stack ------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("water_level_mm > 10**10**10", "exponent"),
        ("x ** y", "exponent"),
        ("x ** 9", "exponent"),
        ("x > 10000000000000000", "magnitude"),
        ("x > 1e300", "magnitude"),
        ("not " * 3000 + "x", "longer than"),
        ("+".join(["a"] * 20000), "longer than"),
        ("-" * 300 + "a", "nested"),
        ("not " * 60 + "x", "nested"),
        ("a<" * 120 + "a", "operations"),
        ("+".join(["a"] * 150), "nested"),
    ],
)
def test_limits_are_checked_when_parsing(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        Expression.parse(text)


@pytest.mark.parametrize("text", ["x ** 2", "x ** 0.5", "x ** -1", "x > 1e12", "not not x", "(a + b) * 2"])
def test_limits_leave_ordinary_expressions_alone(text: str) -> None:
    Expression.parse(text)


def test_evaluation_has_a_budget_for_magnitudes() -> None:
    # Each step is allowed; together they grow past any reading: the evaluation stops, it never computes on.
    expression = Expression.parse("((((x ** 8) ** 8) ** 8) ** 8) ** 8 > 0")
    with pytest.raises(ExpressionBudgetError, match="exceeds"):
        expression.evaluate({"x": 10**15})
    huge = 10**4000  # a JSON payload may carry an integer this long
    with pytest.raises(ExpressionBudgetError):
        Expression.parse("x * x").evaluate({"x": huge})


def test_a_tree_built_around_the_parser_is_still_bounded() -> None:
    # An Expression from a stored tree (not through parse) must not compute 10**10**10 either.
    import ast
    tree = ast.parse("10 ** 10 ** 10", mode="eval")
    with pytest.raises(ExpressionBudgetError):
        Expression("10 ** 10 ** 10", tree, frozenset()).evaluate({})
