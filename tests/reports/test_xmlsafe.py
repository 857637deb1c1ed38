"""Report XML is parsed without DTDs or entities (the measured code is the agent's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.reports.xmlsafe import UnsafeXMLError, parse_bytes, parse_file

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<testsuites><testsuite name="&lol3;"/></testsuites>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><coverage>&xxe;</coverage>"""
PARAM = b"""<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://evil.example/x.dtd"><coverage/>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE, PARAM])
def test_dtds_and_entities_are_refused(doc: bytes) -> None:
    with pytest.raises(UnsafeXMLError):
        parse_bytes(doc)


def test_plain_documents_parse_with_builtin_entities() -> None:
    root = parse_bytes(b'<a k="1 &lt; 2"><!-- c --><b>x &amp; y &#x41;</b></a>')
    assert root.get("k") == "1 < 2"
    b = root.find("b")
    assert b is not None and b.text == "x & y A"


@pytest.mark.parametrize("doc", [b"", b"<a>", b"not xml", b"<a></b>"])
def test_garbage_is_a_value_error(doc: bytes) -> None:
    with pytest.raises(ValueError):
        parse_bytes(doc)


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.xml"
    real.write_text("<a/>")
    link = tmp_path / "link.xml"
    os.symlink(real, link)
    assert parse_file(real).tag == "a"
    with pytest.raises(OSError):
        parse_file(link)
