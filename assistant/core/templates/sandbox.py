"""A Jinja sandbox that also bounds time and memory, for templates from untrusted files.

Jinja's immutable sandbox stops templates from reaching Python internals, but
not from burning the machine: ``'x' * 100000`` looped inside itself runs for
hours, ``ns.s ~ ns.s`` forty times or ``'%01000000000d' % 1`` asks for
gigabytes. Every render here has a budget:

- **time**: ``TIME_BUDGET_S`` of wall time, checked on every operation the
  template performs (attribute and item lookups, calls, operators, loop steps);
- **loop steps**: ``MAX_LOOP_STEPS`` items over all ``for`` loops of a render
  (each loop's iterable is wrapped when the template is compiled);
- **value sizes**: no string or list longer than ``MAX_VALUE`` comes out of an
  operator, a filter, a method or a ``~`` join, and the arguments that would
  make one bigger (repeat counts, padding widths, format widths) are checked
  *before* the work is done, so memory never grows past a few times the cap;
- **output**: ``MAX_OUTPUT_CHARS`` in all.

Breaking a budget raises ``SecurityError``; the template module turns it into
a one-line ``ChatTemplateError``.
"""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

TIME_BUDGET_S = 2.0  # a real chat template renders in milliseconds
MAX_LOOP_STEPS = 1_000_000
MAX_VALUE = 4_000_000  # characters of a string, items of a list
MAX_OUTPUT_CHARS = 8_000_000  # far beyond any context window
MAX_RANGE_ITEMS = 200_000  # per render, all range() calls together
MAX_SOURCE_CHARS = 1_000_000  # real templates are a few kB
MAX_INT_BITS = 4096  # squaring a number 40 times needs 2^40 bits, in one uninterruptible step
_BIG_WIDTH = re.compile(r"\d{7,}")  # a width or precision of a million or more in a format
_CHECK_EVERY = 256  # operations between two looks at the clock


_SIZED = (str, bytes, list, tuple, dict)
_SIZED_TYPES = frozenset(_SIZED)


def _size(value: Any) -> int:
    # The exact-type test first: this runs on every operator of every render.
    if type(value) in _SIZED_TYPES or isinstance(value, _SIZED):
        return len(value)
    return 0


class Budget:
    """What one render may still spend."""

    def __init__(self) -> None:
        self.start(TIME_BUDGET_S)

    def start(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.ops = 0
        self.steps = 0
        self.range_items = 0

    def tick(self) -> None:
        self.ops += 1
        if self.ops % _CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise SecurityError(f"the template ran longer than {TIME_BUDGET_S:g} s")

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_LOOP_STEPS:
            raise SecurityError(f"the template's loops went past {MAX_LOOP_STEPS:,} steps")
        self.tick()


def _children(v: Any) -> list[Any] | None:
    t = type(v)
    if t is list or t is tuple:
        return v
    if t is dict:
        return [*v.keys(), *v.values()]
    if t is Namespace:
        attrs = object.__getattribute__(v, "_Namespace__attrs")
        return [*attrs.keys(), *attrs.values()]
    return None


def _weight(value: Any, limit: int = MAX_VALUE) -> int:
    """About how many characters a value prints as: string lengths plus one per item,
    nested, an item shared N times counted N times (``[s, s]`` prints ``s`` twice, so
    sixty rounds of ``x = [x, x]`` print 2^60 copies from a few kB of memory).
    Each distinct object is weighed once, so this is quick; past ``limit`` it stops."""
    memo: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        v, expanded = stack.pop()
        if id(v) in memo and not expanded:
            continue
        kids = _children(v)
        if kids is None:
            memo[id(v)] = len(v) if type(v) is str or type(v) is bytes else 1
        elif not expanded:
            memo[id(v)] = 0  # in progress: a cycle counts once
            stack.append((v, True))
            stack.extend((k, False) for k in kids if id(k) not in memo)
        else:
            memo[id(v)] = min(limit + 1, len(kids) + sum(memo.get(id(k), 0) for k in kids))
    return memo[id(value)]


def checked(value: Any) -> Any:
    """``value``, unless it is (or would print as) more than ``MAX_VALUE`` characters."""
    if _size(value) > MAX_VALUE or (_children(value) is not None and _weight(value) > MAX_VALUE):
        raise SecurityError(f"a value grew past {MAX_VALUE:,} characters or items")
    return value


def _check_args(args: Iterable[Any]) -> None:
    """Counts and widths that would make a huge value (padding, indent, repeat)."""
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_VALUE:
            raise SecurityError(f"a size argument of {a:,} is too large")


def _check_numbers(operator_: str, left: Any, right: Any) -> None:
    """Integers that would grow past ``MAX_INT_BITS`` (Python's are unbounded)."""
    if not (type(left) is int and type(right) is int):
        return
    bits = {"*": left.bit_length() + right.bit_length(), "**": left.bit_length() * abs(right)}
    if bits.get(operator_, max(left.bit_length(), right.bit_length())) > MAX_INT_BITS:
        raise SecurityError(f"a number grew past {MAX_INT_BITS} bits")


def _check_format(fmt: Any) -> None:
    if isinstance(fmt, str) and _BIG_WIDTH.search(fmt):
        raise SecurityError("a format width or precision is too large")


def _check_repeat(left: Any, right: Any) -> None:
    seq, times = (left, right) if isinstance(right, int) else (right, left)
    if not (isinstance(seq, str | list | tuple) and isinstance(times, int)) or times <= 0:
        return
    per = len(seq) if isinstance(seq, str) else _weight(seq, MAX_VALUE // times + 1)
    if per * times > MAX_VALUE:
        raise SecurityError("repetition too large")


def _check_replace(s: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        n = s.count(old) if old else len(s) + 1
        if isinstance(count, int) and count >= 0:
            n = min(n, count)
        if len(s) + n * (len(new) - len(old)) > MAX_VALUE:
            raise SecurityError("a replacement would grow a value too large")


def _check_join(items: Any) -> None:
    if isinstance(items, list | tuple) and _weight(items) > MAX_VALUE:
        raise SecurityError("a join would grow a value too large")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with ``Budget`` checks on every operation."""

    intercepted_binops = frozenset({"+", "*", "**", "%", "//", "/", "-"})
    intercepted_unops = frozenset({"-", "+"})

    def __init__(self, budget: Budget, **kwargs: Any) -> None:
        super().__init__(finalize=self._finalize, **kwargs)
        self.budget = budget
        self.optimized = False  # no constant folding: nothing runs before the budget does
        self.filters = {name: self.limit(f) for name, f in self.filters.items()}
        self.filters["_loop_guard"] = self._loop_guard
        self.filters["_size_guard"] = checked
        self.globals.pop("lipsum", None)  # makes text of any length on request

    # -- compiling: every loop and every ~ join gets a guard --------------------

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        if len(source) > MAX_SOURCE_CHARS:
            raise SecurityError(f"the template is longer than {MAX_SOURCE_CHARS:,} characters")
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_loop_guard", [], [], None, None)
        _guard_concats(tree)
        return tree

    def _finalize(self, value: Any) -> Any:
        """Every ``{{ … }}`` value, before it is turned into text."""
        return value if type(value) is str else checked(value)

    def _loop_guard(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            self.budget.step()
            yield item

    # -- running ------------------------------------------------------------------

    def limit(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """A filter under the budget: its size arguments checked first, its result after."""
        skip = 2 if hasattr(f, "jinja_pass_arg") else 1  # (context,) value, then arguments
        name = getattr(f, "__name__", "")

        def limited(*args: Any, **kwargs: Any) -> Any:
            self.budget.tick()
            value, rest = (args[skip - 1] if len(args) >= skip else None), args[skip:]
            _check_args([*rest, *kwargs.values()])
            checked(value)  # tojson, string, list… of a value that prints as gigabytes
            if name.endswith(("do_join", "do_sum")) and value is not None:
                if not isinstance(value, str | list | tuple | dict):  # a generator (map, …)
                    value = [x for _, x in zip(range(MAX_VALUE + 1), value, strict=False)]
                    args = (*args[: skip - 1], value, *rest)
                _check_join(value)
            elif name.endswith("do_replace") and len(rest) >= 2:
                _check_replace(value, *rest[:3])
            elif name == "do_format":
                _check_format(value)
            return checked(f(*args, **kwargs))

        limited.__dict__.update(getattr(f, "__dict__", {}))  # keeps pass_context & co.
        limited.__name__ = getattr(f, "__name__", "filter")
        return limited

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.tick()
        if isinstance(obj, str) and attribute in ("format", "format_map"):
            _check_format(obj)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.budget.tick()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.budget.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _check_args([*args, *kwargs.values()])
            name = getattr(__obj, "__name__", "")
            if name == "replace" and len(args) >= 2:
                _check_replace(owner, *args[:3])
            elif name == "join" and args:
                _check_join(args[0])
        return checked(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        if operator_ == "+" and type(left) is str and type(right) is str:  # most of a template
            if len(left) + len(right) > MAX_VALUE:
                raise SecurityError(f"a value grew past {MAX_VALUE:,} characters or items")
            return left + right
        _check_numbers(operator_, left, right)
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError("exponent too large")
        elif operator_ == "*":
            _check_repeat(left, right)
        elif operator_ == "%" and isinstance(left, str):
            _check_format(left)
            _check_args(right if isinstance(right, tuple) else [right])
        elif operator_ == "+" and _weight(left) + _weight(right) > MAX_VALUE:
            raise SecurityError(f"a value grew past {MAX_VALUE:,} characters or items")
        return checked(_BINOPS[operator_](left, right))

    def call_unop(self, context: Any, operator_: str, arg: Any) -> Any:
        self.budget.tick()
        return operator.neg(arg) if operator_ == "-" else operator.pos(arg)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "**": operator.pow,
    "%": operator.mod,
}


def _guard_concats(tree: nodes.Template) -> None:
    """Wrap each ``a ~ b`` as a whole too: the joined result is checked, not just its parts."""
    for parent in list(tree.find_all(nodes.Node)):
        for field in parent.fields:
            value = getattr(parent, field, None)
            if isinstance(value, nodes.Concat):
                setattr(parent, field, nodes.Filter(value, "_size_guard", [], [], None, None))
            elif isinstance(value, list):
                setattr(
                    parent,
                    field,
                    [
                        nodes.Filter(v, "_size_guard", [], [], None, None)
                        if isinstance(v, nodes.Concat)
                        else v
                        for v in value
                    ],
                )
