"""Limits on what a template may do while it renders.

A coordinator's template can loop for ever (``{% for i in range(10**5) %}`` nested three
deep) or grow without bound (``{{ 'x' * 10**10 }}``, a string doubled in a loop); left
alone, one preview or check would take the whole machine's memory, and the service with it.
Watching from outside (a thread with a deadline, a trace hook) cannot stop an allocation
that is already under way, so the limits are taken at the operations themselves:

- every render gets a :class:`Budget` (:func:`bounded_render`): loop steps and calls,
  characters and items built, and wall-clock seconds;
- every loop iteration and call spends a step, and the text a loop body writes;
- ``*``, ``**``, ``+``, ``%`` and ``~``, the filters, the str methods that pad, join,
  replace or format, and every value written out spend what they build, checked
  *before* it is built; a nested list is measured as deep as it would be printed.

An exhausted budget raises :class:`RenderLimitError`, which the renderer reports with the
template's file and line like any other template error.
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import Environment, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

__all__ = ["BoundedSandbox", "Budget", "RenderLimitError", "bounded_render", "measure"]

MAX_STEPS = 1_000_000  # loop iterations, calls and filters in one render
MAX_SIZE = 20_000_000  # characters and items built in one render
MAX_SECONDS = 15.0  # a backstop: the steps and sizes above stop runaways sooner
MAX_INT_BITS = 4096  # 1,233 decimal digits: more than any email needs
_CLOCK_EVERY = 32  # steps between two looks at the clock

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_PADDING = {"center", "ljust", "rjust", "zfill"}
_INTERNALS = (Context, EvalContext, Environment)
_SCALARS = (int, float, type(None))
_LEAVES = (*_SCALARS, *_INTERNALS)
_CONTAINERS = (list, tuple, dict, set, frozenset, Namespace, Mapping)  # what measure walks
_MAX_DEPTH = 100


class RenderLimitError(Exception):
    """A template used up its budget: it loops too long or builds too much."""


class Budget:
    """What one render may still spend."""

    def __init__(self, steps: int = MAX_STEPS, size: int = MAX_SIZE,
                 seconds: float = MAX_SECONDS) -> None:
        self.steps = steps
        self.size = size
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self._max_steps = steps
        self._max_size = size
        self._sizes: dict[int, tuple[Any, int]] = {}

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderLimitError(
                f"the template takes more than {self._max_steps:,} loop steps and calls: "
                "a loop that runs too long, or loops nested too deep")
        if self.steps % _CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
            raise RenderLimitError(
                f"the template takes longer than {self.seconds:g} seconds to render")

    def spend(self, size: int) -> None:
        """Count ``size`` characters or items about to be built; refuse past the budget."""
        if size > self.size:
            raise RenderLimitError(
                f"the template builds more than {self._max_size:,} characters or items: "
                "text or a list that grows without bound")
        self.size -= size

    def fits(self, *values: Any) -> int:
        """The printed size of ``values``, refused if it is beyond what is left."""
        total = 0
        for value in values:
            total += self.size_of(value)
        if total > self.size:
            self.spend(total)
        return total

    def size_of(self, value: Any) -> int:
        """:func:`measure` of one value; text and numbers at once, a container walked
        once per render (the sandbox lets no template change a list or dict in place,
        and the cache holds the value, so its id cannot be reused meanwhile)."""
        if isinstance(value, str):
            return len(value) + 1
        if not isinstance(value, _CONTAINERS) or isinstance(value, _INTERNALS):
            return 1
        known = self._sizes.get(id(value))
        if known is not None:
            return known[1]
        size = measure(value, self.size + 1)
        self._sizes[id(value)] = (value, size)
        return size


_CURRENT: ContextVar[Budget | None] = ContextVar("mailflow_render_budget", default=None)


@contextmanager
def bounded_render(budget: Budget | None = None) -> Iterator[Budget]:
    """Every template operation inside spends from one fresh budget."""
    active = budget or Budget()
    token = _CURRENT.set(active)
    try:
        yield active
    finally:
        _CURRENT.reset(token)


def current() -> Budget:
    """The active render's budget; outside a render, a fresh one (each operation alone)."""
    return _CURRENT.get() or Budget()


def measure(value: Any, limit: int) -> int:
    """How many characters and items printing ``value`` would make, counted up to ``limit``.

    Lists, tuples, sets, dicts, their views and jinja namespaces are walked as deep as
    ``str()`` would go: a list that appears six times counts six times, but is walked
    once. Anything else counts one. Past ``limit`` the count stops (and exceeds it).
    """
    sizes: dict[int, int] = {}

    def size(item: Any, depth: int) -> int:
        if isinstance(item, (str, bytes)):
            return len(item) + 1
        if isinstance(item, _LEAVES):
            return 1
        known = sizes.get(id(item))
        if known is not None:
            return known
        if depth > _MAX_DEPTH:
            return limit + 1
        if isinstance(item, Mapping):
            parts: Iterable[Any] = (p for pair in item.items() for p in pair)
        elif isinstance(item, (list, tuple, set, frozenset)):
            parts = item
        elif isinstance(item, Namespace):
            parts = object.__getattribute__(item, "__dict__").values()
        else:
            return 1
        total = 1 + len(item) if not isinstance(item, Namespace) else 1
        for part in parts:
            if isinstance(part, str):
                total += len(part) + 1
            elif isinstance(part, _SCALARS):
                total += 1
            else:
                total += size(part, depth + 1)
            if total > limit:
                break
        sizes[id(item)] = total
        return total

    return size(value, 0)


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _check_percent(template: str, values: Any, budget: Budget) -> None:
    """Spend what ``template % values`` could make: its widths, and each field as large
    as the largest value (``'%(a)s%(a)s'`` prints one value twice)."""
    specs = _PERCENT_SPEC.findall(template)
    for width, precision in specs:
        if "*" in (width, precision):
            raise RenderLimitError("a '*' width in a % format is not allowed in a template")
        budget.spend(int(width or 0) + int(precision or 0))
    if isinstance(values, Mapping):
        values = list(values.values())
    elif not isinstance(values, tuple):
        values = [values]
    largest = max((budget.size_of(v) for v in values), default=0)
    budget.spend(len(template) + len(specs) * largest)


def _check_format(template: str, values: list[Any], budget: Budget) -> None:
    """As `_check_percent`, for ``str.format``: widths, and each field the largest value."""
    fields = 0
    for _, name, spec, _ in string.Formatter().parse(template):
        if spec and "{" in spec:
            raise RenderLimitError("a nested {} inside a format field is not allowed")
        for number in re.findall(r"\d+", spec or ""):
            budget.spend(int(number))
        fields += name is not None
    largest = max((budget.size_of(v) for v in values), default=0)
    budget.spend(len(template) + fields * largest)


def _str_method_size(name: str, text: str, args: tuple[Any, ...], budget: Budget) -> int:
    """What calling ``text.<name>(*args)`` could build, before it is called."""
    if name in _PADDING and args and isinstance(args[0], int):
        return max(args[0], len(text))
    if name == "expandtabs":
        tabsize = args[0] if args and isinstance(args[0], int) else 8
        return len(text) * max(tabsize, 1)
    if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        times = text.count(args[0]) if args[0] else len(text) + 1
        return len(text) + times * len(args[1])
    if name == "join" and args:
        items = args[0]
        return budget.fits(items) + len(text) * len(items)
    return 0


def _filter_size(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """What the filters that pad, join or replace could build, before they run.

    ``args`` are the filter's own arguments (the value first), without jinja's context.
    """
    def arg(index: int, key: str, default: Any) -> Any:
        return kwargs.get(key, args[index] if len(args) > index else default)

    value = args[0] if args else ""
    text = value if isinstance(value, str) else ""
    if name in ("center", "indent"):
        width = arg(1, "width", 80 if name == "center" else 4)
        pad = width if isinstance(width, int) else len(str(width))
        return len(text) + (text.count("\n") + 1) * max(pad, 0)
    if name == "join" and isinstance(value, (list, tuple)):
        return len(value) * len(str(arg(1, "d", "")))
    if name == "wordwrap":
        return len(text) * (1 + len(str(arg(3, "wrapstring", "\n"))))
    if name == "replace":
        old, new = str(arg(1, "old", "")), str(arg(2, "new", ""))
        times = text.count(old) if old else len(text) + 1
        return len(text) + times * len(new)
    return 0


# Filters that never turn their input into text: measuring their (possibly large, but
# harmless) input would only cost time.
_STRUCTURAL = frozenset({
    "attr", "batch", "count", "default", "d", "dictsort", "first", "groupby", "items", "last",
    "length", "list", "map", "max", "min", "reject", "rejectattr", "reverse", "select",
    "selectattr", "slice", "sort", "unique", "abs", "int", "float", "round", "bool",
})


_SIZED = frozenset({"center", "indent", "join", "wordwrap", "replace", "format"})


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` spending the render's budget: a step; for a filter that makes text, the
    size of what it is given (and, for those that pad, join or replace, of what they
    could make) before it runs; the size of its result after."""
    if name in _STRUCTURAL:
        @functools.wraps(func)
        def structural(*args: Any, **kwargs: Any) -> Any:
            budget = current()
            budget.step()
            result = func(*args, **kwargs)
            if isinstance(result, (list, tuple)):
                budget.spend(len(result))
            return result

        return structural

    sized = name in _SIZED

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        lead = 1 if args and isinstance(args[0], _INTERNALS) else 0
        if sized:
            if name == "join" and len(args) > lead and not isinstance(args[lead], (list, tuple)):
                args = (*args[:lead], list(args[lead]), *args[lead + 1:])
            own = args[lead:]
            budget.spend(_filter_size(name, own, kwargs))
            if name == "format" and own and isinstance(own[0], str):
                _check_percent(own[0], kwargs or tuple(own[1:]), budget)
        budget.fits(*args[lead:], *kwargs.values())
        result = func(*args, **kwargs)
        if isinstance(result, (str, list, tuple)):
            budget.spend(len(result))
        return result

    return run


def _bounded_iter(iterable: Iterable[Any], weight: int) -> Iterator[Any]:
    budget = current()
    for item in iterable:
        budget.step()
        if weight:
            budget.spend(weight)
        yield item


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with loops and ``~`` going through the budget.

    The iterable of each ``for`` is written inside ``environment.bounded_iter(...)``, so
    each iteration spends a step and the text the loop body writes (jinja allows no custom
    node types, so the iterable node is recognised when it is visited).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop_iterables: dict[int, int] = {}  # id(iterable node) -> text per iteration

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        if not node.recursive:  # a recursive loop's own calls each spend a step
            written = sum(len(data.data) for data in node.find_all(nodes.TemplateData))
            self.loop_iterables[id(node.iter)] = written
        super().visit_For(node, frame)

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        weight = self.loop_iterables.pop(id(node), None)
        if weight is None:
            return super().visit(node, *args, **kwargs)
        self.write("environment.bounded_iter(")
        super().visit(node, *args, **kwargs)
        self.write(f", {weight})")
        return None

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            markup = "context.eval_ctx.volatile"
        else:
            markup = "True" if frame.eval_ctx.autoescape else "False"
        self.write(f"environment.bounded_concat({markup}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with every growing or repeating operation on a budget.

    Constant folding at compile time is off (``optimized=False``): ``{{ 10**10**10 }}``
    would otherwise be computed while the template compiles, outside any budget.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, *, filters: Mapping[str, Callable[..., Any]], **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.filters.update(filters)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        shown = self.finalize

        def finalize(value: Any) -> Any:  # every {{ value }}: kept short, it is the most run
            value = shown(value) if shown else value
            budget = current()
            size = len(value) + 1 if isinstance(value, str) else budget.size_of(value)
            if size > budget.size:
                budget.spend(size)  # raises
            budget.size -= size
            return value

        self.finalize = finalize

    def bounded_iter(self, iterable: Iterable[Any], weight: int) -> Iterator[Any]:
        return _bounded_iter(iterable, weight)

    def bounded_concat(self, markup: bool, parts: tuple[Any, ...]) -> str:
        budget = current()
        budget.spend(budget.fits(*parts))
        return markup_join(parts) if markup else str_join(parts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and abs(left) > 1 and right * _int_bits(left) > MAX_INT_BITS:
                raise RenderLimitError(f"{left} ** {right} is too large a number")
        elif operator == "*" and isinstance(left, int) and isinstance(right, int):
            if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
                raise RenderLimitError("the product is too large a number")
        elif operator == "*":
            sequence, times = (right, left) if isinstance(left, int) else (left, right)
            if isinstance(times, int) and times > 0 and hasattr(sequence, "__len__"):
                budget.spend(len(sequence) * times)
        elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
            budget.spend(len(left) + len(right))
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, right, budget)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        text = getattr(__obj, "__self__", None)
        if isinstance(text, str):
            name = getattr(__obj, "__name__", "")
            if name == "join" and args and not isinstance(args[0], (list, tuple)):
                args = (list(args[0]), *args[1:])
            budget.spend(_str_method_size(name, text, args, budget))
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        template = value.__self__
        checked = formatter

        @functools.wraps(checked)
        def run(*args: Any, **kwargs: Any) -> str:
            budget = current()
            values = list(args) + list(kwargs.values())
            if kwargs.keys() == set() and len(args) == 1 and isinstance(args[0], Mapping):
                values = list(args[0].values())  # format_map
            _check_format(template, values, budget)
            return checked(*args, **kwargs)

        return run
