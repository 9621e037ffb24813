"""A safe arithmetic parser for the ``calculate`` tool: no ``eval``, bounded work.

Reading order: jsonrpc -> lifecycle -> notes / **calculator** / schema -> tools -> ...

A language model will send this tool whatever text it likes, so the tool must
never run it as Python.  This is a recursive-descent parser over a tiny
grammar, evaluating as it parses::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "//" | "%") unary)*
    unary      := ("+" | "-") unary | power
    power      := atom (("**" | "^") unary)?        right-associative
    atom       := NUMBER | "(" expression ")"

Limits keep one call cheap: at most 200 characters, nesting at most 32 deep,
exponents at most 64 in size, results at most 1e300 in magnitude.
"""

from __future__ import annotations

import math
import re

MAX_LENGTH = 200
MAX_DEPTH = 32
MAX_EXPONENT = 64
MAX_MAGNITUDE = 1e300

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(\*\*|//|[-+*/%^()]))")


class CalcError(ValueError):
    """The expression is not arithmetic we accept; the message says where."""


def tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise CalcError(f"unexpected character {text[pos:].lstrip()[:1]!r} at position {pos}")
        tokens.append(match.group(1) or match.group(2))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise CalcError("unexpected end of expression")
        self.pos += 1
        return token

    def expression(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = check(value + self.term() if self.take() == "+" else value - self.term())
        return value

    def term(self) -> float:
        value = self.unary()
        while self.peek() in ("*", "/", "//", "%"):
            op, right = self.take(), self.unary()
            if op == "*":
                value = check(value * right)
            elif right == 0:
                raise CalcError("division by zero")
            elif op == "/":
                value = check(value / right)
            else:
                value = check(value // right if op == "//" else value % right)
        return value

    def unary(self) -> float:
        if self.peek() in ("+", "-"):
            sign = -1 if self.take() == "-" else 1
            return sign * self.nested(self.unary)
        return self.power()

    def power(self) -> float:
        base = self.atom()
        if self.peek() in ("**", "^"):
            self.take()
            exponent = self.nested(self.unary)
            if abs(exponent) > MAX_EXPONENT:
                raise CalcError(f"exponent {exponent:g} is too large (limit {MAX_EXPONENT})")
            if base == 0 and exponent < 0:
                raise CalcError("division by zero")
            try:
                result = base ** exponent
            except OverflowError:
                raise CalcError("result too large") from None
            if isinstance(result, complex):
                raise CalcError("result is not a real number")
            return check(result)
        return base

    def atom(self) -> float:
        token = self.take()
        if token == "(":
            value = self.nested(self.expression)
            if self.take() != ")":
                raise CalcError("expected ')'")
            return value
        if token[0].isdigit() or token[0] == ".":
            return float(token) if any(c in token for c in ".eE") else int(token)
        raise CalcError(f"unexpected {token!r}")

    def nested(self, rule):  # type: ignore[no-untyped-def]
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalcError(f"nested more than {MAX_DEPTH} deep")
        try:
            return rule()
        finally:
            self.depth -= 1


def check(value: float) -> float:
    if isinstance(value, float) and (math.isnan(value) or abs(value) > MAX_MAGNITUDE):
        raise CalcError("result too large")
    if isinstance(value, int) and abs(value) > MAX_MAGNITUDE:
        raise CalcError("result too large")
    return value


def evaluate(expression: str) -> float:
    """The value of ``expression``; raises CalcError with a reason a model can act on."""
    if len(expression) > MAX_LENGTH:
        raise CalcError(f"expression longer than {MAX_LENGTH} characters")
    tokens = tokenize(expression)
    if not tokens:
        raise CalcError("empty expression")
    parser = _Parser(tokens)
    value = parser.expression()
    if parser.peek() is not None:
        raise CalcError(f"unexpected {parser.peek()!r} after the expression")
    return value
