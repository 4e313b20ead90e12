"""Read YAML manifest files into plain data, keeping the position of every node.

PyYAML's own loaders forget positions and silently keep the last of two equal keys, which in a
GitOps repository hides mistakes; its C composer even crashes on very deep nesting. So documents
are built here from the parser's event stream, without recursion: every mapping key and value gets
its line and column, duplicate keys, unsupported tags, recursive aliases, excessive nesting and
alias "bombs" become diagnostics, and every YAML error is caught here and never leaks.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import yaml

from reconciler.manifest.diagnostics import Diagnostic, Severity, Span, make_diagnostic
from reconciler.manifest.document import YamlDocument
from reconciler.manifest.files import read_manifest_bytes
from reconciler.manifest.yamlbuild import BuildAborted, DocumentBuilder, Loader, YamlLoader


def read_documents(source: Path, file: str) -> tuple[list[YamlDocument], list[Diagnostic]]:
    """Read one file: its non-empty documents, and every problem found reading it.

    Files that are not regular, or larger than `files.MAX_FILE_BYTES`, are refused unparsed.
    """
    raw, refused = read_manifest_bytes(source)
    if refused is not None:
        return [], [_file_error(file, refused)]
    text, problem = decode(raw, file)
    if problem is not None:
        return [], [problem]
    return parse_documents(text, file, source)


def decode(raw: bytes, file: str) -> tuple[str, Diagnostic | None]:
    """The text of a file: UTF-8 (with or without BOM) or UTF-16 with a BOM."""
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return raw.decode("utf-16"), None
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        message = f"the file is not valid UTF-8 text (byte 0x{byte})"
        span = Span(line, column, line, column + 1)
        return "", make_diagnostic(Severity.ERROR, message, file=file, span=span)


def parse_documents(
    text: str, file: str, source: Path
) -> tuple[list[YamlDocument], list[Diagnostic]]:
    """Parse every document of `text`; empty ones are skipped, a file without any is an error.

    Parsing stops at the first syntax error; the documents before it are kept.
    """
    documents: list[YamlDocument] = []
    diagnostics: list[Diagnostic] = []
    loader = Loader(text)
    try:
        _parse_stream(loader, file, source, documents, diagnostics)
    except BuildAborted:
        pass
    except yaml.MarkedYAMLError as exc:
        diagnostics.append(_syntax_error(exc, text, file))
    except yaml.reader.ReaderError as exc:
        diagnostics.append(_reader_error(exc, text, file))
    except yaml.YAMLError as exc:
        diagnostics.append(_file_error(file, f"YAML error: {exc}"))
    finally:
        loader.dispose()
    if not documents and not diagnostics:
        message = "empty file: it holds no YAML document"
        diagnostics.append(
            make_diagnostic(Severity.ERROR, message, file=file, span=Span(1, 1, 1, 1))
        )
    return documents, diagnostics


def _parse_stream(
    loader: YamlLoader,
    file: str,
    source: Path,
    documents: list[YamlDocument],
    diagnostics: list[Diagnostic],
) -> None:
    loader.get_event()  # StreamStartEvent
    index = 0
    while not loader.check_event(yaml.StreamEndEvent):
        loader.get_event()  # DocumentStartEvent
        builder = DocumentBuilder(loader, file)
        try:
            builder.run()
        finally:
            diagnostics.extend(builder.diagnostics)
        if builder.root is not None:
            documents.append(
                YamlDocument(
                    file=file,
                    source=source,
                    index=index,
                    data=builder.root,
                    spans=builder.spans,
                    key_spans=builder.key_spans,
                )
            )
        index += 1


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line, mark.column) if mark is not None else (0, 0)
    if _char_at(text, line, column) == "\t":
        message = "tab character used for indentation: YAML allows only spaces"
    else:
        message = f"YAML syntax error: {exc.problem or 'invalid YAML'}"
        context = exc.context or ""
        if context and exc.context_mark is not None and exc.context_mark.line != line:
            start = exc.context_mark
            context = f"{context} that starts at line {start.line + 1}, column {start.column + 1}"
        if context:
            message = f"{message} ({context})"
    span = Span(line + 1, column + 1, line + 1, column + 2)
    return make_diagnostic(Severity.ERROR, message, file=file, span=span)


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> Diagnostic:
    position = max(0, min(int(exc.position), len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
    message = f"character #x{character:04x} is not allowed in YAML ({exc.reason})"
    span = Span(line, column, line, column + 1)
    return make_diagnostic(Severity.ERROR, message, file=file, span=span)


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    if 0 <= line < len(lines) and 0 <= column < len(lines[line]):
        return lines[line][column]
    return ""


def _file_error(file: str, message: str) -> Diagnostic:
    return make_diagnostic(Severity.ERROR, message, file=file, span=Span())
