"""Parse XML that untrusted code may have shaped, refusing DTDs and entities.

The JUnit and Cobertura files come from the runner's own verification
container, but the code being measured (tests, conftest.py, plugins) was
written by the agent and runs inside that container, so the reports are
treated as hostile input: any DOCTYPE, entity declaration or external entity
reference is refused before it can expand ("billion laughs", XXE). The
parser is expat driven directly into an ElementTree builder, so nothing
outside this module needs defusedxml.
"""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.parsers import expat

MAX_XML_BYTES = 64 * 1024 * 1024


class UnsafeXMLError(ValueError):
    """The document uses a forbidden XML feature (DTD, entity) or is too large."""


def _forbid(what: str) -> Any:
    def handler(*_args: Any) -> Any:
        raise UnsafeXMLError(f"{what} not allowed")

    return handler


def parse_bytes(data: bytes) -> ET.Element:
    """Parse ``data`` into an Element; raise UnsafeXMLError or ValueError on bad input."""
    if len(data) > MAX_XML_BYTES:
        raise UnsafeXMLError(f"document larger than {MAX_XML_BYTES} bytes")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator=None)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _forbid("DOCTYPE")
    parser.EntityDeclHandler = _forbid("entity declaration")
    parser.UnparsedEntityDeclHandler = _forbid("unparsed entity")
    parser.ExternalEntityRefHandler = _forbid("external entity")
    parser.StartElementHandler = lambda tag, attrs: builder.start(tag, attrs)
    parser.EndElementHandler = lambda tag: builder.end(tag)
    parser.CharacterDataHandler = lambda text: builder.data(text)
    parser.buffer_text = True
    parser.ordered_attributes = False
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    root = builder.close()
    if not isinstance(root, ET.Element):  # pragma: no cover - TreeBuilder always returns one
        raise ValueError("empty XML document")
    return root


def parse_file(path: Path) -> ET.Element:
    """Read and parse ``path`` (size-bounded, never through a symlink); OSError propagates."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ValueError("not a regular file")
        data = fh.read(MAX_XML_BYTES + 1)
    return parse_bytes(data)


def parse_tree(path: Path | str) -> ET.ElementTree:
    """``parse_file`` as an ElementTree (the shape junitparser's ``parse_func`` wants)."""
    return ET.ElementTree(parse_file(Path(path)))
