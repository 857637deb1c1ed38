"""Parse XML that untrusted code may have shaped: defusedxml, no DTD, no entity, size-capped.

The JUnit and Cobertura files come from the runner's own verification
container, but the code being measured (tests, conftest.py, plugins) was
written by the agent and runs inside that container, so the reports are
treated as hostile input. Parsing goes through defusedxml with every switch
on (``forbid_dtd``, ``forbid_entities``, ``forbid_external``): any DOCTYPE,
entity declaration or external reference is refused before it can expand
("billion laughs", XXE). Files are read without following a link and only up
to :data:`MAX_XML_BYTES`.
"""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import fromstring

MAX_XML_BYTES = 64 * 1024 * 1024


class UnsafeXMLError(ValueError):
    """The document uses a forbidden XML feature (DTD, entity) or is too large."""


def parse_bytes(data: bytes) -> ET.Element:
    """Parse ``data`` into an Element; raise UnsafeXMLError or ValueError on bad input."""
    if len(data) > MAX_XML_BYTES:
        raise UnsafeXMLError(f"document larger than {MAX_XML_BYTES} bytes")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise UnsafeXMLError("DOCTYPE not allowed") from None
    except EntitiesForbidden:
        raise UnsafeXMLError("entity declaration not allowed") from None
    except DefusedXmlException as exc:  # ExternalReferenceForbidden, NotSupportedError
        raise UnsafeXMLError(f"{type(exc).__name__}: not allowed") from None
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    if not isinstance(root, ET.Element):  # pragma: no cover - fromstring always returns one
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
