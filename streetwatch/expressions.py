"""Safe arithmetic and boolean expressions over named values, never ``eval``.

Used by device profiles (derived metrics: ``mounting_height_mm - distance_mm``) and rules
(conditions: ``relay_on and power_w < 5``). The text is parsed with :mod:`ast` and only a small
set of nodes is allowed; evaluation walks that tree.

>>> Expression.parse("relay_on and power_w < 5").evaluate({"relay_on": 1, "power_w": 0.4})
True
>>> sorted(Expression.parse("a * 2 + b").names)
['a', 'b']
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class ExpressionError(ValueError):
    """The expression text is not allowed, or a name has no value."""


class ExpressionBudgetError(ExpressionError, ArithmeticError):
    """Evaluating went past the budget (a magnitude, an exponent): the expression must not be run again."""


# Limits checked when the text is parsed (rules validate, profile validate/add, loading): an expression
# is a short formula over readings, and these bounds keep parsing, checking and evaluating it to
# microseconds, whatever a file says. docs/rules.md lists them.
MAX_LENGTH = 500
"""Characters in an expression."""
MAX_DEPTH = 32
"""Levels of nesting (each operator, call or parenthesised part is one level)."""
MAX_OPERATIONS = 100
"""Operators, comparisons and calls in one expression."""
MAX_CONSTANT = 1e15
"""Largest magnitude of a number written in an expression."""
MAX_EXPONENT = 8
"""``**`` takes a written number of at most this magnitude as its exponent (``x ** 2``, ``x ** 0.5``)."""
MAX_MAGNITUDE = 1e30
"""Evaluation budget: an intermediate result beyond this magnitude stops the evaluation
(:class:`ExpressionBudgetError`), so no input can make Python compute a number of a billion digits."""
MAX_ROUND_DIGITS = 15


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Mod: operator.mod, ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}


def _bounded(result: Any) -> Any:
    if isinstance(result, complex):
        return math.nan  # a negative number to a fractional power has no real value
    if abs(result) > MAX_MAGNITUDE:
        raise ExpressionBudgetError(f"an intermediate value exceeds the evaluation budget ({MAX_MAGNITUDE:g})")
    return result


def _power(base: Any, exponent: Any) -> Any:
    # Checked before computing: 10 ** 10 ** 10 would hold the event loop for minutes.
    if abs(exponent) > MAX_EXPONENT or abs(base) > MAX_MAGNITUDE:
        raise ExpressionBudgetError(f"{base!r} ** {exponent!r} exceeds the evaluation budget "
                                    f"(exponent ≤ {MAX_EXPONENT}, values ≤ {MAX_MAGNITUDE:g})")
    return base ** exponent


def _round(value: Any, digits: Any = None) -> Any:
    if digits is not None and abs(digits) > MAX_ROUND_DIGITS:  # round(5, -10**10) computes 10**10**10
        raise ExpressionBudgetError(f"round() to {digits!r} digits exceeds the evaluation budget")
    return round(value) if digits is None else round(value, digits)


_BINARY[ast.Pow] = _power
_FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max, "round": _round}


def _check_limits(text: str, tree: ast.Expression) -> None:
    """Depth, size, written numbers and exponents; iterative, so a deep tree cannot exhaust the stack."""
    operations = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nested more than {MAX_DEPTH} levels deep: {_short(text)}")
        if isinstance(node, ast.BoolOp):
            operations += len(node.values) - 1
        elif isinstance(node, ast.Compare):
            operations += len(node.ops)
        elif isinstance(node, ast.BinOp | ast.UnaryOp | ast.Call):
            operations += 1
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
                and not isinstance(node.value, bool) and abs(node.value) > MAX_CONSTANT:
            raise ExpressionError(f"the number {node.value!r} exceeds the largest magnitude allowed "
                                  f"({MAX_CONSTANT:g}) in {_short(text)}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = _written_number(node.right)
            if exponent is None or abs(exponent) > MAX_EXPONENT:
                raise ExpressionError(f"the exponent of ** must be a written number of at most {MAX_EXPONENT} "
                                      f"(e.g. x ** 2, x ** 0.5): {_short(ast.unparse(node))}")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    if operations > MAX_OPERATIONS:
        raise ExpressionError(f"more than {MAX_OPERATIONS} operations ({operations}): {_short(text)}")


def _written_number(node: ast.AST) -> float | None:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return sign * float(node.value)
    return None


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _check(node: ast.AST, names: set[str]) -> None:
    match node:
        case ast.Expression(body=body):
            _check(body, names)
        case ast.BoolOp(values=values):
            for value in values:
                _check(value, names)
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            _check(left, names)
            _check(right, names)
        case ast.UnaryOp(op=ast.Not() | ast.USub() | ast.UAdd(), operand=operand):
            _check(operand, names)
        case ast.Compare(left=left, ops=ops, comparators=comparators) if all(type(o) in _COMPARE for o in ops):
            _check(left, names)
            for comparator in comparators:
                _check(comparator, names)
        case ast.Constant(value=value) if isinstance(value, int | float | bool):
            pass
        case ast.Name(id=name):
            if name not in ("true", "false", "True", "False"):
                names.add(name)
        case ast.Call(func=ast.Name(id=fn), args=args, keywords=[]) if fn in _FUNCTIONS:
            for arg in args:
                _check(arg, names)
        case _:
            raise ExpressionError(f"not allowed in an expression: {ast.unparse(node)!r}")


@dataclass(frozen=True)
class Expression:
    text: str
    tree: ast.Expression
    names: frozenset[str]
    # The checked tree turned into nested closures once, so evaluating is a few calls, not a tree walk.
    _function: Callable[[Mapping[str, float | bool]], Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._function is None:
            object.__setattr__(self, "_function", _compile(self.tree.body))

    @classmethod
    def parse(cls, text: str) -> Expression:
        """The checked expression; :class:`ExpressionError` if it is not allowed or exceeds a limit."""
        if len(text) > MAX_LENGTH:
            raise ExpressionError(f"longer than {MAX_LENGTH} characters ({len(text)}): {_short(text)}")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"cannot parse {_short(text)}: {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise ExpressionError(f"nested more than {MAX_DEPTH} levels deep: {_short(text)}") from None
        _check_limits(text, tree)
        names: set[str] = set()
        _check(tree, names)
        return cls(text, tree, frozenset(names))

    def evaluate(self, values: Mapping[str, float | bool]) -> Any:
        missing = self.names - values.keys()
        if missing:
            raise ExpressionError(f"no value for {', '.join(sorted(missing))} in {self.text!r}")
        assert self._function is not None
        return self._function(values)


Compiled = Callable[[Mapping[str, float | bool]], Any]


def _compile(node: ast.AST) -> Compiled:
    """The closure that computes ``node``; only nodes :func:`_check` allowed reach here."""
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda values: all(part(values) for part in parts)
        return lambda values: any(part(values) for part in parts)
    if isinstance(node, ast.BinOp):
        return _binary(_BINARY[type(node.op)], _compile(node.left), _compile(node.right))
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda values: not operand(values)
        if isinstance(node.op, ast.USub):
            return lambda values: -operand(values)
        return lambda values: +operand(values)
    if isinstance(node, ast.Compare):
        return _compare(_compile(node.left),
                        [(_COMPARE[type(op)], _compile(c)) for op, c in zip(node.ops, node.comparators, strict=True)])
    if isinstance(node, ast.Constant):
        constant = node.value
        return lambda values: constant
    if isinstance(node, ast.Name):
        if node.id in ("true", "True", "false", "False"):
            truth = node.id in ("true", "True")
            return lambda values: truth
        return operator.itemgetter(node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        function = _FUNCTIONS[node.func.id]
        args = [_compile(a) for a in node.args]
        return lambda values: function(*(arg(values) for arg in args))
    raise ExpressionError(f"cannot evaluate {ast.unparse(node)!r}")  # unreachable after _check


def _binary(op: Callable[[Any, Any], Any], left: Compiled, right: Compiled) -> Compiled:
    def binary(values: Mapping[str, float | bool]) -> Any:
        try:
            return _bounded(op(left(values), right(values)))
        except ZeroDivisionError:
            return math.nan
    return binary


def _compare(first: Compiled, rest: list[tuple[Callable[[Any, Any], Any], Compiled]]) -> Compiled:
    if len(rest) == 1:
        (op, second), = rest
        return lambda values: bool(op(first(values), second(values)))

    def chain(values: Mapping[str, float | bool]) -> bool:
        left = first(values)
        for op, comparator in rest:
            right = comparator(values)
            if not op(left, right):
                return False
            left = right
        return True
    return chain
