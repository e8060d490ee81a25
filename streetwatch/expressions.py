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
from dataclasses import dataclass
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
        return _evaluate(self.tree.body, values)


def _evaluate(node: ast.AST, values: Mapping[str, float | bool]) -> Any:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_evaluate(v, values) for v in node.values)
        return any(_evaluate(v, values) for v in node.values)
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            return math.nan
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("true", "True"):
            return True
        if node.id in ("false", "False"):
            return False
        return values[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _FUNCTIONS[node.func.id](*(_evaluate(a, values) for a in node.args))
    raise ExpressionError(f"cannot evaluate {ast.unparse(node)!r}")  # unreachable after _check
