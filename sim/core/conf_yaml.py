"""A conf file's values and, per dotted key, its source: read and written with ruamel.yaml's
round-trip loader, so the comments that say where each default comes from are data, not text
parsed by hand.

Every default in conf/ carries its source as the trailing comment of its line (`# ANCHORS 3: ...`,
`# assumption: ...`, `# posterior's most probable set, calibrated against ...; before calibration:
...`). A key's *comment* is the trailing comment of the line its key (or, for a list item, its
item) starts on; every leaf inside a one-line flow value (`- {name: x, difficulty: 1.5}  # ...`) shares
its line's comment. A key's *source* is its comment, else its nearest enclosing key's (a block's
comment covers the keys under it). Dotted keys are as on the Hydra command line, list items by
index (`friction.routes.prompt.steps.0.difficulty`). Comments are ruamel's own tokens, matched to
keys by the line ruamel records for each; the text after `#`, stripped.

`ConfFile.set(key, value, comment)` replaces a value and its line's comment (`scalar` fixes how a
number is spelled); `dump()` returns the file. What comes back byte for byte: every comment
(full-line and trailing) at its column, blank lines, key order, quoting, flow and block style,
number spellings (`1.0e+3`, `0x1F`), block scalars, and indentation of the shape conf/ uses
(mappings by 2, list dashes 2 in from their key); on a line whose value is replaced, the gap
between the value and its comment. What ruamel does not keep: a trailing comment after an anchor
(`key: &name  # ...`) moves to the next line (the two in conf/calibration/targets.yaml; nothing
writes that file); other indentations are made the one above; spaces inside flow braces and
after a colon (`{ x: 1 }`, `a:   1`) and trailing spaces are dropped; a flow collection over
several lines is joined onto one, losing comments inside it; `~` and an empty value are written
`null`; a leading `---` is dropped; a missing final newline is added. None of these occurs in
conf/ outside targets.yaml (tests/test_conf_yaml.py dumps every file back and compares).

Values are YAML 1.2 (ruamel's): `yes`, `no`, `on`, `off` are strings, where PyYAML and Hydra
(YAML 1.1) read booleans; tests/test_conf_yaml.py checks every conf file reads as
`yaml.safe_load` reads it, so a file that relies on the difference fails there.

Below the model (sim.core): imports nothing else from `sim`.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.tokens import CommentToken

from sim.core.files import write_text


class _Representer(RoundTripRepresenter):
    """ruamel's round-trip representer, but None is written `null` (ruamel writes an empty value)."""

    def represent_none(self, data):
        return self.represent_scalar("tag:yaml.org,2002:null", "null")


_Representer.add_representer(type(None), _Representer.represent_none)


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.Representer = _Representer
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never fold a long line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def plain(value):
    """A loaded value as plain Python (dict, list, str, int, float, bool, None, date), as
    `yaml.safe_load` gives it: ruamel's subclasses (CommentedMap, ScalarFloat, ...) shed."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    for kind in (bool, int, float, str):  # bool before int: True is an int
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(value.isoformat())
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    return value


def leaves(value, prefix: str = "") -> dict[str, object]:
    """Dotted keys of every leaf under `value`; empty mappings and lists are leaves."""
    if isinstance(value, dict) and value:
        return {k: v for key, sub in value.items() for k, v in leaves(sub, _join(prefix, key)).items()}
    if isinstance(value, list) and value:
        return {k: v for i, sub in enumerate(value) for k, v in leaves(sub, _join(prefix, i)).items()}
    return {prefix: value}


def _tokens(obj) -> list[CommentToken]:
    """Every comment token held under a ruamel comment record (nested lists of tokens)."""
    if isinstance(obj, CommentToken):
        return [obj]
    if isinstance(obj, list | tuple):
        return [t for x in obj for t in _tokens(x)]
    return []


def _comment_text(token: CommentToken) -> str:
    """The comment of a token's first line: the text after its `#`, stripped."""
    return token.value.split("\n", 1)[0].lstrip()[1:].strip()


def _key_line(node: CommentedMap, key) -> int:
    """The line `key` is written on: in `node`, or for a key merged in (`<<: *name`), in the
    anchored mapping it comes from."""
    if key in node.lc.data:
        return node.lc.key(key)[0]
    for merged in node.merge:
        merged = merged[1] if isinstance(merged, tuple) else merged  # (position, map) before 0.19
        if key in merged:
            return _key_line(merged, key)
    raise KeyError(key)


def scalar(text: str):
    """The YAML scalar `text` as ruamel loads it, so that it is written back spelled as given
    (`scalar("1.470")` writes `1.470`, not `1.47`)."""
    return _yaml().load(text)


class ConfFile:
    """One conf file: its values, each dotted key's comment and source, and edits to both."""

    def __init__(self, text: str):
        self._yaml = _yaml()
        self.data = self._yaml.load(text)
        if self.data is None:
            self.data = CommentedMap()
        self._index()

    @classmethod
    def read(cls, path: Path) -> ConfFile:
        return cls(Path(path).read_text(encoding="utf-8"))

    def _index(self) -> None:
        """Which line each dotted key starts on, and the trailing comment tokens of each line."""
        self._by_line: dict[int, list[CommentToken]] = {}
        self._line: dict[str, int] = {}
        self._container: dict[str, tuple[CommentedBase, object]] = {}  # key -> (parent, key in parent)

        def visit(node, prefix: str) -> None:
            if not isinstance(node, CommentedBase):
                return
            for token in _tokens([node.ca.comment, list(node.ca.items.values()), node.ca.end]):
                line = token.start_mark.line
                if all(token is not t for t in self._by_line.setdefault(line, [])):
                    self._by_line[line].append(token)
            if isinstance(node, CommentedMap):
                children = [(k, _key_line(node, k)) for k in node]
            elif isinstance(node, CommentedSeq):
                children = [(i, node.lc.item(i)[0]) for i in range(len(node))]
            else:
                return
            for key, line in children:
                path = _join(prefix, key)
                self._line[path] = line
                self._container[path] = (node, key)
                visit(node[key], path)

        visit(self.data, "")

    # ---------------------------------------------------------------- reading
    def values(self, skip: tuple[str, ...] = ()) -> dict:
        """The file as plain Python (`yaml.safe_load`'s result), top-level keys in `skip` left out."""
        return {k: v for k, v in plain(self.data).items() if k not in skip}

    def keys(self) -> list[str]:
        """Every dotted key, containers and leaves, in file order."""
        return list(self._line)

    def line(self, key: str) -> int:
        """The line (from 0) `key` starts on, as read."""
        return self._line[key]

    def _line_tokens(self, key: str) -> list[CommentToken]:
        """The comment tokens starting on the line `key` starts on: its trailing comment (a key's
        line holds text before any comment on it), one token or the same one in two records."""
        line = self._line.get(key)
        return self._by_line.get(line, []) if line is not None else []

    def comment(self, key: str) -> str:
        """The trailing comment of the line `key` starts on ("" if none)."""
        tokens = self._line_tokens(key)
        return _comment_text(tokens[0]) if tokens else ""

    def source(self, key: str) -> str:
        """The key's comment, else the nearest enclosing key's; "" if none of them has one."""
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            found = self.comment(".".join(parts[:n]))
            if found:
                return found
        return ""

    def sources(self, skip: tuple[str, ...] = ()) -> dict[str, str]:
        """The source of every leaf, by dotted key in file order (top-level keys in `skip` left out)."""
        return {key: self.source(key) for key in leaves(self.values(skip))}

    # ---------------------------------------------------------------- writing
    def set(self, key: str, value, comment: str | None = None) -> None:
        """Give `key` a new value (see `scalar` to fix its spelling) and, unless `comment` is None,
        make `comment` the trailing comment of its line (replacing the line's comment: a flow value's
        line is shared by its keys). Everything else in the file is left as it was. Keys inside a
        new mapping or list value are known once the dump is read again."""
        if key not in self._container:
            raise KeyError(key)
        parent, name = self._container[key]
        old, parent[name] = parent[name], value
        if not isinstance(old, dict | list) and not isinstance(value, dict | list):
            shift = len(self._spelling(value)) - len(self._spelling(old))
            for token in self._line_tokens(key) if shift else ():  # keep the gap before the comment
                token.start_mark = copy.copy(token.start_mark)
                token.start_mark.column = max(0, token.start_mark.column + shift)
        if comment is not None:
            self._set_comment(key, comment)

    def _set_comment(self, key: str, comment: str) -> None:
        tokens = self._line_tokens(key)
        for token in tokens:  # ruamel may hold one comment in two records; the rest of a token's
            first, newline, rest = token.value.partition("\n")  # value is full-line comments after it
            indent = first[: len(first) - len(first.lstrip())]
            token.value = f"{indent}# {comment}{newline}{rest}"
        if tokens:
            return
        # no comment on the line yet: attach one to the block key or list item the line belongs to
        # (ruamel writes no comment inside a flow mapping or list)
        path = key
        while "." in path and self._container[path][0].fa.flow_style():
            path = path.rsplit(".", 1)[0]
        parent, name = self._container[path]
        parent.yaml_add_eol_comment(f"# {comment}", name)
        token = next(t for t in _tokens(parent.ca.items[name]) if t.value.lstrip().startswith("#"))
        self._by_line[self._line[key]] = [token]

    def _spelling(self, value) -> str:
        """How a scalar is written (its first line, without YAML's document end)."""
        out = io.StringIO()
        self._yaml.dump(value, out)
        return out.getvalue().split("\n", 1)[0]

    def dump(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        return out.getvalue()

    def write(self, path: Path) -> None:
        write_text(Path(path), self.dump())
