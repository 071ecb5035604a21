"""Reading the config's YAML: the data, the line of every key, duplicate keys, and syntax errors said in
plain words with the line a person has to fix (PyYAML's own wording names parser states, not mistakes)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A mapping key written twice: the later one would silently win."""

    path: KeyPath
    first_line: int
    second_line: int


@dataclass(frozen=True, slots=True)
class YamlSource:
    """The parsed document with what the checks need to point at lines."""

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)  # key path -> 1-based line of the key
    scalars: dict[KeyPath, str] = field(default_factory=dict)  # key path -> the value as written
    duplicates: list[Duplicate] = field(default_factory=list)


class YamlSyntaxError(Exception):
    """The text is not valid YAML; `message` says why in plain words, `line` where (1-based)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def read_yaml(text: str) -> YamlSource:
    """Parse YAML text once into data plus line and duplicate-key information."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        try:
            message, line = explain(exc, text)
        except Exception:  # a gap in the explanations must not hide the error itself
            mark = getattr(exc, "problem_mark", None)
            message, line = f"not valid YAML: {exc}", (mark.line + 1 if mark is not None else None)
        raise YamlSyntaxError(message, line) from None
    finally:
        loader.dispose()
    source = YamlSource(data)
    if root is not None:
        _walk(root, (), source)
    return source


def _key(node: yaml.Node) -> str | int:
    return node.value if isinstance(node, yaml.ScalarNode) else str(node.value)


def _walk(node: yaml.Node, path: KeyPath, source: YamlSource) -> None:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        source.scalars[path] = node.value
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str | int, int] = {}
        for key_node, value_node in node.value:
            key = _key(key_node)
            line = key_node.start_mark.line + 1
            child = (*path, key)
            if key in seen and key != "<<":
                source.duplicates.append(Duplicate(child, seen[key], line))
                # the later value is the one the data holds, so its lines are the ones to show
                for index in (source.lines, source.scalars):
                    for known in [p for p in index if p[: len(child)] == child]:
                        del index[known]
            seen[key] = line
            _walk(value_node, child, source)
            source.lines[child] = line  # the key's own line reads better than the value's
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _walk(item, (*path, position), source)


# PyYAML names the parser's state ("expected <block end>, but found '?'"); these say what a person did


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(lines: list[str], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _key_on(line: str) -> str | None:
    match = re.match(r"\s*(?:-\s+)?([^\s:#][^:#]*?)\s*:(?:\s|$)", line)
    return match.group(1).strip("'\"") if match else None


def _previous_meaningful(lines: list[str], number: int) -> int | None:
    """The nearest line above `number` that holds something other than blanks or a comment."""
    for candidate in range(number - 1, 0, -1):
        stripped = lines[candidate - 1].strip()
        if stripped and not stripped.startswith("#"):
            return candidate
    return None


def _named(key: str | None) -> str:
    return f"`{key}`" if key else "this line"


def _key_indent(line: str) -> int:
    """Where the key of a line starts: after the dash of a list item (`  - id: x` -> 4)."""
    match = re.match(r"(\s*(?:-\s+)*)", line)
    return len(match.group(1)) if match else _indent(line)


def _moved(lines: list[str], earlier: int, above: int, line: int) -> bool:
    """True when the lines before and after `above` fit together without it: `above` is the odd one."""
    earlier_text = re.sub(r"\s+#.*$", "", _content(lines, earlier)).rstrip()
    if earlier_text.endswith(":") and not (
        _indent(_content(lines, above)) <= _indent(earlier_text) < _indent(_content(lines, line))
    ):
        # `earlier` opens the section both lines are in: either of them may be off, unless `above`
        # left the section that `line` is still in
        return False
    without = [*lines[: above - 1], "#", *lines[above:]]
    try:
        yaml.compose("\n".join(without), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return mark is not None and mark.line + 1 > line
    except yaml.YAMLError:
        return False
    return True


def _mapping_values(lines: list[str], line: int, column: int) -> tuple[str, int]:
    """`mapping values are not allowed here`: a `key:` where only a value can be."""
    here = _content(lines, line)
    first_colon = re.search(r":(\s|$)", here)
    above = _previous_meaningful(lines, line)
    same_line = _key_on(here) is not None and first_colon is not None and first_colon.start() < column
    if same_line or above is None or _indent(here) <= _indent(_content(lines, above)):
        return ('a value contains `: `; put the value in quotes, e.g. name: "a: b"', line)
    # YAML read this line as the continuation of the value on the line above: one of the two is off
    return _misplaced(lines, line)


def _misplaced(lines: list[str], line: int) -> tuple[str, int]:
    """A line whose indentation fits nothing above it: say whether it or the line above is the odd one."""
    here = _content(lines, line)
    key_here = _named(_key_on(here))
    above = _previous_meaningful(lines, line)
    if above is None:
        return (f"{key_here} is indented, but there is no section above it to belong to", line)
    above_text = _content(lines, above)
    key_above = _named(_key_on(above_text))
    earlier = _previous_meaningful(lines, above)
    if earlier is not None and _moved(lines, earlier, above, line):
        if _indent(above_text) == 0:
            return (
                f"{key_above} is at the margin, but the keys around it (lines {earlier} and {line}) are "
                f"indented: was it moved back to the margin by mistake? Indent it like them",
                above,
            )
        return (
            f"{key_above} is indented differently from the keys around it (lines {earlier} and {line}); "
            f"indent it like them",
            above,
        )
    if _indent(here) > _key_indent(above_text):
        return (
            f"{key_here} is indented more than {key_above} on line {above}, which already has its value; "
            f"indent {key_here} like {key_above}",
            line,
        )
    return (
        f"{key_here} is indented less than {key_above} on line {above} but more than the section they are "
        f"in; keys of one section line up at the same indentation",
        line,
    )


def _block_end(lines: list[str], exc: yaml.MarkedYAMLError, line: int) -> tuple[str, int]:
    """`expected <block end>, but found ...`: a line that fits no level of the indentation above."""
    here = _content(lines, line)
    key = _key_on(here)
    found = exc.problem or ""
    above = _previous_meaningful(lines, line)
    above_text = _content(lines, above) if above is not None else ""
    in_list = "collection" in (exc.context or "") or above_text.lstrip().startswith("- ")
    if "'-'" in found:
        return (
            "a list item (`- `) among the keys of a mapping: a list must be the only thing under its key "
            "(start it on the line after `key:`), or indent it under the key it belongs to",
            line,
        )
    if "'?'" in found and in_list:
        return (
            f"{_named(key)} is at the level of the list's dashes (`- `), inside a list: indent it under "
            f"the item above (like its other keys), or start a new item with `- `",
            line,
        )
    return _misplaced(lines, line)


def explain(exc: yaml.YAMLError, text: str) -> tuple[str, int | None]:
    """A plain-words reason (prefixed "not valid YAML") and the line to fix for a PyYAML error."""
    reason, line = _reason(exc, text.splitlines())
    return (f"not valid YAML: {reason}", line)


def _reason(exc: yaml.YAMLError, lines: list[str]) -> tuple[str, int | None]:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return (str(exc), None)
    problem = exc.problem or ""
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return (problem or str(exc), None)
    line, column = mark.line + 1, mark.column
    opened = exc.context_mark.line + 1 if exc.context_mark is not None else line
    quoted = _quote_running_on(lines, line) if isinstance(exc, yaml.parser.ParserError) else None
    if quoted is not None:
        return (
            f"the quote opened on this line is closed only on line {quoted[1]}, so YAML read the lines "
            f"between as one value; close the quote on line {quoted[0]}",
            quoted[0],
        )
    if "'\\t'" in problem:
        return ("a tab character: YAML indents with spaces only; replace the tab with spaces", line)
    if "mapping values are not allowed" in problem:
        return _mapping_values(lines, line, column)
    if "<document start>" in problem:
        first = _previous_meaningful(lines, line)
        while first is not None and _previous_meaningful(lines, first) is not None:
            first = _previous_meaningful(lines, first)
        if first is not None and _indent(_content(lines, first)) > _indent(_content(lines, line)):
            return (
                f"{_named(_key_on(_content(lines, first)))} is indented, but the file's top-level keys "
                f"start at the margin (like line {line}); remove the spaces before it",
                first,
            )
        return (f"this line fits no section above it ({_plain(problem)})", line)
    if "expected <block end>" in problem:
        return _block_end(lines, exc, line)
    if "flow sequence" in context or "flow mapping" in context:
        bracket, closing = ("[", "]") if "sequence" in context else ("{", "}")
        return (
            f"the `{bracket}` opened on this line is not closed (YAML reached line {line} looking for "
            f"`,` or `{closing}`)",
            opened,
        )
    if "quoted scalar" in context:
        return ("a quote opened on this line is never closed; close it at the end of the value", opened)
    if "cannot start any token" in problem:
        return (f"a value cannot start with {_found_character(problem)}; put the value in quotes", line)
    if "undefined alias" in problem:
        return ("a value starting with `*` is read as a YAML alias; put the value in quotes", line)
    return (_plain(f"{problem} ({context})" if context else problem), line)


# the parser's token names, for the errors no explanation above covers
_TOKENS = {
    "<block end>": "the end of the indented block",
    "<block mapping start>": "a key indented differently",
    "<block sequence start>": "a list indented differently",
    "<stream end>": "the end of the file",
    "<document start>": "`---`",
    "'?'": "a key",
}


def _plain(text: str) -> str:
    for token, words in _TOKENS.items():
        text = text.replace(token, words)
    return text


def _quote_running_on(lines: list[str], line: int) -> tuple[int, int] | None:
    """(opened, closed) lines of a quoted value spanning lines just before `line`, the likely culprit."""
    last: tuple[int, int] | None = None
    try:
        for token in yaml.scan("\n".join(lines), Loader=yaml.SafeLoader):
            if token.start_mark.line + 1 >= line:
                break
            if isinstance(token, yaml.ScalarToken) and token.style in ("'", '"'):
                opened, closed = token.start_mark.line + 1, token.end_mark.line + 1
                last = (opened, closed) if closed > opened else None
            elif not isinstance(token, yaml.ValueToken | yaml.KeyToken | yaml.BlockEndToken):
                last = None
    except yaml.YAMLError:
        pass
    return last


def _found_character(problem: str) -> str:
    match = re.search(r"found character ('.+?')", problem)
    return match.group(1) if match else "this character"
