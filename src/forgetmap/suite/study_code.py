"""The study's lighteval task modules, read without running them.

The study (arXiv 2510.17776; its code is the repository post-forget/post-forget, which carries no
license) builds every prompt in two Python modules written for lighteval 0.10. forgetmap never
imports, `exec`s or copies them. `StudyModule` parses a module with `ast` and evaluates the parsed
tree with a small interpreter that knows only:

- literals, names, f-strings, `+ - * %`, comparisons, `and/or/not`, conditional expressions,
  subscripts and slices, list/set/dict/tuple displays and comprehensions;
- statements: assignment (also to subscripts and tuples), `+=`, `if`, `for`, `return`, `raise`,
  `pass`, function definitions (the study's own functions, called with their defaults), and
  `with open(<the exemplar JSON>) as f` for `json.load(f)`;
- `str`, `list` and `dict` methods of `SAFE_METHODS`, the builtins of `SAFE_BUILTINS`,
  `ast.literal_eval`, `random.randint`/`random.seed` (on the interpreter's own generator);
- the lighteval names the modules import: `Doc(...)` and `LightevalTaskConfig(...)` record
  their arguments; metric objects are opaque; lighteval's own prompt functions are known only by
  name (`LIGHTEVAL_PROMPTS`).

`watch` names a variable whose last list-of-strings value during a call is kept (`watched`): the
study's prompt functions hold the options they show in `choices`, in the order their document's
gold index refers to.

Anything else is a `StudyCodeError` naming the file and line: a checkout that changed beyond this
subset fails loudly instead of rendering something else. Module-level names can be preset
(`presets`): the few-shot module asks its user to fill in the path of its exemplar JSON; forgetmap
sets it to the checkout's file.
"""

from __future__ import annotations

import ast
import json
import random
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from forgetmap.errors import ForgetmapError

__all__ = ["StudyCodeError", "StudyModule", "is_doc", "parse_study_source"]

STEP_LIMIT = 50_000_000  # evaluated nodes per module: a runaway loop is an error, not a hang

SAFE_BUILTINS: dict[str, Any] = {
    "len": len,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "set": set,
    "range": range,
    "enumerate": enumerate,
    "zip": zip,
    "sorted": sorted,
    "min": min,
    "max": max,
    "any": any,
    "all": all,
    "abs": abs,
    "isinstance": isinstance,
    "ValueError": ValueError,
    "KeyError": KeyError,
    "IndexError": IndexError,
    "TypeError": TypeError,
    "None": None,
    "True": True,
    "False": False,
}
SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        [
            "format",
            "join",
            "strip",
            "lstrip",
            "rstrip",
            "replace",
            "capitalize",
            "lower",
            "upper",
            "title",
            "split",
            "splitlines",
            "startswith",
            "endswith",
            "isdigit",
            "isalpha",
            "index",
            "find",
            "count",
            "removeprefix",
            "removesuffix",
        ]
    ),
    list: frozenset(["append", "insert", "index", "extend", "copy", "count", "pop"]),
    dict: frozenset(["get", "items", "keys", "values", "copy"]),
    tuple: frozenset(["index", "count"]),
}
# lighteval's own prompt functions a study task may name: what each makes of a row
LIGHTEVAL_PROMPTS: dict[str, Callable[[Mapping[str, Any], str | None], dict[str, Any]]] = {
    # lighteval 0.10 lighteval/tasks/extended/ifeval/main.py: the prompt itself, no instruction
    "lighteval.tasks.extended.ifeval.ifeval_prompt": lambda line, task_name=None: {
        "__doc__": True,
        "task_name": task_name,
        "query": line["prompt"],
        "choices": [""],
        "gold_index": 0,
        "instruction": "",
    },
}


class StudyCodeError(ForgetmapError):
    """The study's code uses something the reader does not know, or raises (FILE:LINE: why)."""


class _Return(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, value: Any) -> None:
        self.value = value


class _Opaque:
    """A lighteval object the prompts do not depend on (metrics, enums): carried, never used."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


class _Namespace:
    """An imported module or class: attributes by dotted name."""

    def __init__(self, name: str, attrs: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.attrs = dict(attrs or {})

    def attr(self, name: str) -> Any:
        if name in self.attrs:
            return self.attrs[name]
        full = f"{self.name}.{name}"
        raise KeyError(full)


class _Builtin:
    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name = name
        self.fn = fn


def _record(kind: str) -> _Builtin:
    def make(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if args:
            raise TypeError(f"{kind} takes keyword arguments only")
        return {f"__{kind}__": True, **kwargs}

    return _Builtin(kind, make)


def is_doc(value: Any) -> bool:
    """Whether `value` is what a `Doc(...)` call made (a dict of its arguments)."""
    return isinstance(value, dict) and value.get("__doc__") is True


class _JsonFile:
    def __init__(self, path: Path) -> None:
        self.path = path


class _Function:
    """A function of the study's module, evaluated by the interpreter when called."""

    def __init__(self, node: ast.FunctionDef, module: StudyModule) -> None:
        self.node = node
        self.module = module
        args = node.args
        if args.vararg or args.kwarg or args.posonlyargs or args.kwonlyargs:
            raise module.error(node, "functions with *args, **kwargs or keyword-only arguments")
        self.params = [a.arg for a in args.args]
        self.defaults = {
            p: module.eval(d, module.globals)
            for p, d in zip(
                self.params[len(self.params) - len(args.defaults) :], args.defaults, strict=True
            )
        }

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) > len(self.params):
            raise self.module.error(self.node, f"{self.node.name}() given too many arguments")
        env = dict(zip(self.params, args, strict=False))
        for k, v in kwargs.items():
            if k not in self.params or k in env:
                raise self.module.error(self.node, f"{self.node.name}() bad argument {k!r}")
            env[k] = v
        for p in self.params:
            if p not in env:
                if p not in self.defaults:
                    raise self.module.error(self.node, f"{self.node.name}() missing {p!r}")
                env[p] = self.defaults[p]
            self.module.bind(p, env[p], env)
        try:
            self.module.run(self.node.body, env)
        except _Return as r:
            return r.value
        return None


def parse_study_source(text: str, path: str) -> tuple[ast.Module, list[str]]:
    """Parse a module; a missing comma between call arguments (the few-shot module has one, a
    SyntaxError "Perhaps you forgot a comma?") is added where the parser points, and noted."""
    notes = []
    for _ in range(5):
        try:
            return ast.parse(text, filename=path), notes
        except SyntaxError as exc:
            if "forgot a comma" not in str(exc.msg) or not exc.lineno:
                raise StudyCodeError(f"{path}:{exc.lineno}: not valid Python ({exc.msg})") from None
            lines = text.split("\n")
            target = exc.lineno - 2 if exc.offset and exc.offset <= 1 else exc.lineno - 1
            while target > 0 and not lines[target].strip():
                target -= 1
            lines[target] = lines[target].rstrip() + ","
            notes.append(f"{path}:{target + 1}: added the comma the parser asks for")
            text = "\n".join(lines)
    raise StudyCodeError(f"{path}: not valid Python")


class StudyModule:
    """One of the study's task modules, evaluated by the interpreter (see the module doc).

    `presets`: module-level names whose assignments are replaced by these values. `files`:
    the only files `open()` may read (a JSON file, for `json.load`).
    """

    def __init__(
        self,
        path: str | Path,
        presets: Mapping[str, Any] | None = None,
        files: tuple[Path, ...] = (),
        seed: int | None = None,
    ) -> None:
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StudyCodeError(f"{self.path}: cannot read ({exc})") from None
        tree, self.notes = parse_study_source(text, str(self.path))
        self.presets = dict(presets or {})
        # the last list of strings bound to this name while a call runs (`watch`): the option
        # texts a prompt function lays out, whose order the document's gold index refers to
        self.watch: str | None = None
        self.watched: list[Any] | None = None
        self.files = {f.resolve() for f in files}
        self.rng = random.Random(seed)
        self.steps = 0
        self.globals: dict[str, Any] = {}
        self.run(tree.body, self.globals, module_level=True)

    # -- errors ---------------------------------------------------------------------------------

    def error(self, node: ast.AST, msg: str) -> StudyCodeError:
        return StudyCodeError(f"{self.path}:{getattr(node, 'lineno', '?')}: {msg}")

    def unsupported(self, node: ast.AST) -> StudyCodeError:
        what = type(node).__name__
        return self.error(node, f"unsupported construct {what} (read without running it)")

    # -- public ---------------------------------------------------------------------------------

    def __contains__(self, name: str) -> bool:
        return name in self.globals

    def __getitem__(self, name: str) -> Any:
        try:
            return self.globals[name]
        except KeyError:
            raise StudyCodeError(f"{self.path}: {name}: not defined in the module") from None

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call one of the module's functions (or a known lighteval prompt function)."""
        return self._call(fn, list(args), kwargs, None)

    def seed(self, value: int) -> None:
        """Reset the generator behind `random` (lighteval 0.10 seeds it with 1234 before it
        builds a task's documents)."""
        self.rng.seed(value)

    # -- statements -----------------------------------------------------------------------------

    def run(self, body: list[ast.stmt], env: dict[str, Any], module_level: bool = False) -> None:
        for node in body:
            self._stmt(node, env, module_level)

    def _stmt(self, node: ast.stmt, env: dict[str, Any], module_level: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not module_level:
                raise self.unsupported(node)
            self._import(node, env)
        elif isinstance(node, ast.FunctionDef):
            env[node.name] = _Function(node, self)
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if module_level and names and names[0] in self.presets:
                env[names[0]] = self.presets[names[0]]
                return
            value = self.eval(node.value, env)
            for target in node.targets:
                self._assign(target, value, env)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._assign(node.target, self.eval(node.value, env), env)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name):
                raise self.unsupported(node)
            cur = self._name(node.target, env)
            env[node.target.id] = self._binop(node.op, cur, self.eval(node.value, env), node)
        elif isinstance(node, ast.Expr):
            self.eval(node.value, env)
        elif isinstance(node, ast.If):
            self.run(node.body if self.eval(node.test, env) else node.orelse, env, module_level)
        elif isinstance(node, ast.For):
            if node.orelse:
                raise self.unsupported(node)
            for value in self.eval(node.iter, env):
                self._assign(node.target, value, env)
                self.run(node.body, env, module_level)
        elif isinstance(node, ast.Return):
            raise _Return(None if node.value is None else self.eval(node.value, env))
        elif isinstance(node, ast.Raise):
            exc = self.eval(node.exc, env) if node.exc is not None else None
            raise self.error(node, f"the study's code raises: {exc}")
        elif isinstance(node, ast.With):
            self._with(node, env, module_level)
        elif not isinstance(node, ast.Pass):
            raise self.unsupported(node)

    def _import(self, node: ast.Import | ast.ImportFrom, env: dict[str, Any]) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                target = self._module(a.name, node) if a.asname else self._module(top, node)
                env[a.asname or top] = target
            return
        mod = self._module(node.module or "", node)
        for a in node.names:
            try:
                env[a.asname or a.name] = (
                    mod.attr(a.name) if isinstance(mod, _Namespace) else getattr(mod, a.name)
                )
            except (KeyError, AttributeError):
                raise self.error(node, f"cannot import {a.name} from {node.module}") from None

    def _module(self, name: str, node: ast.AST) -> Any:
        if name == "ast":
            return _Namespace("ast", {"literal_eval": _Builtin("literal_eval", ast.literal_eval)})
        if name == "random":
            return _Namespace(
                "random",
                {
                    "randint": _Builtin("randint", lambda a, b: self.rng.randint(a, b)),
                    "seed": _Builtin("seed", lambda s: self.rng.seed(s)),
                },
            )
        if name == "json":
            return _Namespace("json", {"load": _Builtin("load", self._json_load)})
        if name in ("os", "typing"):
            return _Namespace(name, {"List": _Opaque("List"), "path": _Namespace("os.path")})
        if name == "lighteval" or name.startswith("lighteval."):
            return _LightevalNamespace(name)
        raise self.error(node, f"imports {name!r}, which forgetmap does not read")

    def _json_load(self, handle: Any) -> Any:
        if not isinstance(handle, _JsonFile):
            raise StudyCodeError(f"{self.path}: json.load of something other than an open file")
        try:
            return json.loads(handle.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StudyCodeError(f"{handle.path}: not readable JSON ({exc})") from None

    def _with(self, node: ast.With, env: dict[str, Any], module_level: bool) -> None:
        if len(node.items) != 1:
            raise self.unsupported(node)
        item = node.items[0]
        call = item.context_expr
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            raise self.unsupported(node)
        if call.func.id != "open" or not call.args:
            raise self.unsupported(node)
        path = Path(str(self.eval(call.args[0], env))).resolve()
        if path not in self.files:
            raise self.error(node, f"opens {path}, not a file of the study's protocol")
        if item.optional_vars is not None:
            self._assign(item.optional_vars, _JsonFile(path), env)
        self.run(node.body, env, module_level)

    def bind(self, name: str, value: Any, env: dict[str, Any]) -> None:
        env[name] = value
        if (
            name == self.watch
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        ):
            self.watched = value  # the list itself: later in-place changes (insert) count

    def _assign(self, target: ast.expr, value: Any, env: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value, env)
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = list(value)
            if len(values) != len(target.elts):
                raise self.error(target, "cannot unpack: wrong number of values")
            for t, v in zip(target.elts, values, strict=True):
                self._assign(t, v, env)
        elif isinstance(target, ast.Subscript):
            obj = self.eval(target.value, env)
            if not isinstance(obj, (dict, list)):
                raise self.unsupported(target)
            obj[self.eval(target.slice, env)] = value
        else:
            raise self.unsupported(target)

    # -- expressions ----------------------------------------------------------------------------

    def eval(self, node: ast.expr, env: dict[str, Any]) -> Any:  # noqa: C901 - one dispatch
        self.steps += 1
        if self.steps > STEP_LIMIT:
            raise self.error(node, "too many steps (a loop that does not end?)")
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node, env)
        if isinstance(node, ast.JoinedStr):
            return "".join(self._fstring_part(v, env) for v in node.values)
        if isinstance(node, ast.BinOp):
            return self._binop(node.op, self.eval(node.left, env), self.eval(node.right, env), node)
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand, env)
            if isinstance(node.op, ast.Not):
                return not v
            if isinstance(node.op, ast.USub):
                return -v
            raise self.unsupported(node)
        if isinstance(node, ast.BoolOp):
            result: Any = None
            for v in node.values:
                result = self.eval(v, env)
                if isinstance(node.op, ast.And) and not result:
                    return result
                if isinstance(node.op, ast.Or) and result:
                    return result
            return result
        if isinstance(node, ast.Compare):
            return self._compare(node, env)
        if isinstance(node, ast.IfExp):
            branch = node.body if self.eval(node.test, env) else node.orelse
            return self.eval(branch, env)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, env)
        if isinstance(node, ast.Slice):
            return slice(
                *(
                    None if p is None else self.eval(p, env)
                    for p in (node.lower, node.upper, node.step)
                )
            )
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items: list[Any] = []
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    items.extend(self.eval(e.value, env))
                else:
                    items.append(self.eval(e, env))
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise self.unsupported(node)
            return {
                self.eval(k, env): self.eval(v, env)
                for k, v in zip(node.keys, node.values, strict=True)
            }
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            out = self._comprehension(node.generators, node.elt, env)
            return set(out) if isinstance(node, ast.SetComp) else out
        if isinstance(node, ast.Attribute):
            return self._attribute(node, env)
        if isinstance(node, ast.Call):
            fn = self.eval(node.func, env)
            args: list[Any] = []
            for a in node.args:
                if isinstance(a, ast.Starred):
                    args.extend(self.eval(a.value, env))
                else:
                    args.append(self.eval(a, env))
            kwargs = {}
            for kw in node.keywords:
                if kw.arg is None:
                    raise self.unsupported(node)
                kwargs[kw.arg] = self.eval(kw.value, env)
            return self._call(fn, args, kwargs, node)
        raise self.unsupported(node)

    def _name(self, node: ast.Name, env: dict[str, Any]) -> Any:
        for scope in (env, self.globals, SAFE_BUILTINS):
            if node.id in scope:
                return scope[node.id]
        if node.id == "print":
            return _Builtin("print", lambda *a, **k: None)
        if node.id == "open":
            raise self.error(node, "open() outside a `with` block")
        raise self.error(node, f"name {node.id!r} is not defined")

    def _fstring_part(self, node: ast.expr, env: dict[str, Any]) -> str:
        if isinstance(node, ast.Constant):
            return str(node.value)
        if not isinstance(node, ast.FormattedValue):
            raise self.unsupported(node)
        value = self.eval(node.value, env)
        if node.conversion == ord("r"):
            value = repr(value)
        elif node.conversion == ord("s"):
            value = str(value)
        elif node.conversion == ord("a"):
            value = ascii(value)
        spec = self.eval(node.format_spec, env) if node.format_spec is not None else ""
        return format(value, spec)

    def _binop(self, op: ast.operator, a: Any, b: Any, node: ast.AST) -> Any:
        ops: dict[type, Callable[[Any, Any], Any]] = {
            ast.Add: lambda x, y: x + y,
            ast.Sub: lambda x, y: x - y,
            ast.Mult: lambda x, y: x * y,
            ast.FloorDiv: lambda x, y: x // y,
            ast.Mod: lambda x, y: x % y,
        }
        fn = ops.get(type(op))
        if fn is None or (isinstance(op, ast.Mod) and isinstance(a, str)):
            raise self.unsupported(node)
        try:
            return fn(a, b)
        except TypeError as exc:
            raise self.error(node, str(exc)) from None

    def _compare(self, node: ast.Compare, env: dict[str, Any]) -> bool:
        left = self.eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comp, env)
            ok = {
                ast.Eq: lambda a, b: a == b,
                ast.NotEq: lambda a, b: a != b,
                ast.Lt: lambda a, b: a < b,
                ast.LtE: lambda a, b: a <= b,
                ast.Gt: lambda a, b: a > b,
                ast.GtE: lambda a, b: a >= b,
                ast.In: lambda a, b: a in b,
                ast.NotIn: lambda a, b: a not in b,
                ast.Is: lambda a, b: a is b,
                ast.IsNot: lambda a, b: a is not b,
            }[type(op)](left, right)
            if not ok:
                return False
            left = right
        return True

    def _subscript(self, node: ast.Subscript, env: dict[str, Any]) -> Any:
        obj = self.eval(node.value, env)
        key = self.eval(node.slice, env)
        if isinstance(obj, (_Opaque, _Namespace)):
            return _Opaque(f"{obj}[...]")  # annotations such as List[str]
        try:
            return obj[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise self.error(node, f"{type(exc).__name__}: {exc}") from None

    def _comprehension(
        self, generators: list[ast.comprehension], elt: ast.expr, env: dict[str, Any]
    ) -> list[Any]:
        scope = dict(env)
        out: list[Any] = []

        def loop(i: int) -> None:
            if i == len(generators):
                out.append(self.eval(elt, scope))
                return
            gen = generators[i]
            if gen.is_async:
                raise self.unsupported(gen.target)
            for value in self.eval(gen.iter, scope):
                self._assign(gen.target, value, scope)
                if all(self.eval(cond, scope) for cond in gen.ifs):
                    loop(i + 1)

        loop(0)
        return out

    def _attribute(self, node: ast.Attribute, env: dict[str, Any]) -> Any:
        obj = self.eval(node.value, env)
        if isinstance(obj, _Namespace):
            try:
                return obj.attr(node.attr)
            except KeyError:
                raise self.error(node, f"{obj.name}.{node.attr} is not known") from None
        if isinstance(obj, _Opaque):
            return _Opaque(f"{obj.name}.{node.attr}")
        for kind, names in SAFE_METHODS.items():
            if isinstance(obj, kind) and node.attr in names:
                if kind is str and node.attr == "format":
                    return _Builtin("format", lambda *a, **k: _safe_format(obj, node, a, k, self))
                return _Builtin(node.attr, getattr(obj, node.attr))
        raise self.error(node, f"attribute {node.attr!r} of {type(obj).__name__} is not allowed")

    def _call(self, fn: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST | None) -> Any:
        where = node if node is not None else ast.Pass()
        if isinstance(fn, _Function):
            return fn(*args, **kwargs)
        if isinstance(fn, _Builtin) or fn in SAFE_BUILTINS.values():
            target = fn.fn if isinstance(fn, _Builtin) else fn
            try:
                return target(*args, **kwargs)
            except StudyCodeError:
                raise
            except Exception as exc:  # noqa: BLE001 - the study's call failed: say where
                raise self.error(where, f"{type(exc).__name__}: {exc}") from None
        if isinstance(fn, (_Opaque, _Namespace)):
            return _Opaque(f"{fn}()")
        raise self.error(where, f"cannot call {type(fn).__name__}")


class _LightevalNamespace(_Namespace):
    """lighteval modules: Doc and LightevalTaskConfig record, known prompts render, the rest is
    opaque (metrics, enums) and only fails if a prompt depends on it."""

    def attr(self, name: str) -> Any:
        full = f"{self.name}.{name}"
        if name == "Doc":
            return _record("doc")
        if name == "LightevalTaskConfig":
            return _record("config")
        if full in LIGHTEVAL_PROMPTS:
            return _Builtin(full, LIGHTEVAL_PROMPTS[full])
        if name[:1].isupper() or "metric" in name.lower() or "Config" in name:
            return _Opaque(full)
        return _LightevalNamespace(full)


def _safe_format(
    fmt: str, node: ast.AST, args: tuple[Any, ...], kwargs: dict[str, Any], mod: StudyModule
) -> str:
    """str.format with plain field names only (no attribute or index lookups)."""
    for _, field, _, _ in string.Formatter().parse(fmt):
        if field is not None and field and not (field.isidentifier() or field.isdigit()):
            raise mod.error(
                node, "str.format meets a field that is not a plain name (a brace in the text?)"
            )
    return fmt.format(*args, **kwargs)
