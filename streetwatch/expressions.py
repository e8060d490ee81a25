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


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Mod: operator.mod, ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max, "round": round}


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
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"cannot parse {text!r}: {exc.msg}") from None
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
            return op(left(values), right(values))
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
