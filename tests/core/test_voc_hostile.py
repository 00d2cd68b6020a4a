"""Hostile XML is refused with an error naming the file; entity contents never leak."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from workbench.cli import main as cli_main
from workbench.core.project import Project
from workbench.core.voc import MAX_XML_BYTES, HostileXmlError, parse_annotation, read_annotation

SECRET = "TOP-SECRET-CONTENT-42"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<annotation><filename>&lol9;</filename></annotation>
"""


def _xxe(secret_file: Path) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n'
            "<annotation><filename>a.jpg</filename><object><name>&xxe;</name><bndbox><xmin>1</xmin>"
            "<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>").encode()


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    xml = tmp_path / "evil.xml"
    xml.write_bytes(_xxe(secret))
    with pytest.raises(HostileXmlError, match="evil.xml: DOCTYPE/ENTITY") as info:
        read_annotation(xml)
    assert SECRET not in str(info.value)


def test_entity_expansion_bomb_is_refused_fast() -> None:
    start = time.perf_counter()
    with pytest.raises(HostileXmlError, match="bomb.xml"):
        parse_annotation(BILLION_LAUGHS, name="bomb.xml")
    assert time.perf_counter() - start < 1.0


def test_external_dtd_is_refused() -> None:
    data = b'<!DOCTYPE annotation SYSTEM "http://example.invalid/voc.dtd"><annotation/>'
    with pytest.raises(HostileXmlError, match="dtd.xml"):
        parse_annotation(data, name="dtd.xml")


def test_doctype_hidden_in_utf16_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data = _xxe(secret).decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(HostileXmlError, match="u16.xml"):
        parse_annotation(data.encode("utf-16"), name="u16.xml")


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    filler = b"<!-- " + b"x" * (MAX_XML_BYTES + 10) + b" -->"
    big.write_bytes(b"<annotation>" + filler + b"</annotation>")
    with pytest.raises(HostileXmlError, match=f"big.xml: file is over the {MAX_XML_BYTES} byte limit"):
        read_annotation(big)


def test_path_element_is_never_opened(tmp_path: Path) -> None:
    data = (b"<annotation><filename>a.jpg</filename><path>/nonexistent/elsewhere/a.jpg</path>"
            b"<size><width>10</width><height>10</height><depth>3</depth></size></annotation>")
    ann, problems = parse_annotation(data, name="a.xml")
    assert ann.path == "/nonexistent/elsewhere/a.jpg" and problems == []


def test_project_and_cli_report_hostile_file_without_leaking(tmp_path: Path, capsys) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    Image.new("RGB", (8, 8)).save(data_dir / "a.jpg")
    (data_dir / "a.xml").write_bytes(_xxe(secret))
    project = Project.open(data_dir)
    ann, problems = project.load(project.entries[0])
    assert ann is None
    assert [(p.file, p.severity) for p in problems] == [("a.xml", "error")]
    assert "DOCTYPE" in problems[0].message
    assert SECRET not in project.classes
    assert cli_main(["validate", str(data_dir), "--json"]) == 1
    out = capsys.readouterr().out
    assert SECRET not in out
    report = json.loads(out)
    assert report["problems"][0]["file"] == "a.xml"


def test_xinclude_is_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data = (f'<annotation xmlns:xi="http://www.w3.org/2001/XInclude"><filename>a.jpg</filename>'
            f'<object><name><xi:include href="{secret}" parse="text"/></name><bndbox><xmin>1</xmin>'
            "<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>").encode()
    ann, _ = parse_annotation(data, name="xi.xml")
    assert ann.objects[0].name == ""
    assert SECRET not in repr(ann)


def test_undeclared_non_utf8_is_an_error_naming_the_file() -> None:
    from workbench.core.voc import VocReadError

    with pytest.raises(VocReadError, match=r"latin\.xml: not well-formed XML"):
        parse_annotation("<annotation><filename>caf\xe9.jpg</filename></annotation>".encode("latin-1"),
                         name="latin.xml")
