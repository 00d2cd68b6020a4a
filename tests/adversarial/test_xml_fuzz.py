"""Fuzz the VOC reader (hypothesis): no crash, and every object-like element read or reported;
LabelImg-layout files give the same result through the regex fast path (core/voc_plain.py)
as through the full lxml reader.

200 examples per test by default (CI; ~10 s for the three on 2 busy cores); set
``WORKBENCH_FUZZ_EXAMPLES=20000`` for a
longer hunt. The examples are generated, so nothing is stored (``database=None``).

The property, stated independently of the reader's code:

* ``parse_annotation`` returns ``(Annotation, problems)`` or raises ``VocError`` — nothing else;
* every *object-like element* is either read or named by a problem:
  - an element whose local name is ``object`` in any letter case, anywhere: read when it is an
    ``<object>`` directly inside ``<annotation>`` and loaded; otherwise a problem names it
    (its XPath, or ``<object> #k`` for a direct object that is not loaded);
  - inside a direct ``<object>``: ``name``/``bndbox`` children in any case or namespace; inside
    its first ``<bndbox>``: the coordinate children; inside ``<annotation>``: ``size``, and
    inside the first ``<size>``: ``width``/``height``. Each is read when it is the first child
    with exactly that tag and its value holds no markup (comment, PI, element); otherwise a
    problem names its XPath.
"""

from __future__ import annotations

import os
import re
from xml.sax.saxutils import escape

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lxml import etree  # noqa: E402

from workbench.core.voc import VocError, parse_annotation  # noqa: E402
from workbench.core.voc_xml import parse_root  # noqa: E402

EXAMPLES = int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

COORDS = ("xmin", "ymin", "xmax", "ymax")
TAGS = ["object", "Object", "OBJECT", "v:object", "objects", "name", "Name", "v:name", "bndbox",
        "BndBox", "v:bndbox", *COORDS, "XMin", "size", "Size", "width", "height", "depth",
        "pose", "difficult", "truncated", "score", "part", "extra", "filename"]

_text = st.one_of(
    st.integers(-5, 300).map(str),
    st.floats(-1e3, 1e3, allow_nan=False).map(lambda f: f"{f:.2f}"),
    st.sampled_from(["cat", "dog", "", " 12 ", "1e3", "nan", "inf", "yes", "0.0", "é"]),
    st.text(alphabet="ab<>&\"' 019.-", max_size=6),
)


def _value() -> st.SearchStrategy[str]:
    """Escaped character data, sometimes with a comment or PI inside (``1<!--c-->0``)."""
    plain = _text.map(escape)
    mixed = st.tuples(_text, st.sampled_from(["<!--c-->", "<!---->", "<?pi x?>", "<b>2</b>"]),
                      _text).map(lambda t: escape(t[0]) + t[1] + escape(t[2]))
    return st.one_of(plain, plain, plain, mixed)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(TAGS), children).map(
        lambda t: f"<{t[0]}>{t[1]}</{t[0]}>\n")


def _good_object() -> st.SearchStrategy[str]:
    coords = st.tuples(*(st.tuples(st.just(c), _value()) for c in COORDS))
    return st.tuples(_value(), coords, st.lists(st.sampled_from(
        ["<name>dog</name>", "<bndbox><xmin>1</xmin></bndbox>", "<xmin>4</xmin>",
         "<Name>x</Name>", "<object><name>in</name></object>", "<pose>Left</pose>"]),
        max_size=2)).map(lambda t: (
            "<object>\n<name>" + t[0] + "</name>\n<bndbox>"
            + "".join(f"<{c}>{v}</{c}>" for c, v in t[1]) + "".join(
                x for x in t[2] if x.startswith("<xmin>")) + "</bndbox>\n"
            + "".join(x for x in t[2] if not x.startswith("<xmin>")) + "</object>\n"))


_tree = st.recursive(_value(), lambda kids: _element(
    st.lists(kids, max_size=4).map("".join)), max_leaves=12)

_body = st.lists(st.one_of(_good_object(), _good_object(), _tree,
                           _element(st.lists(_good_object(), max_size=2).map("".join))),
                 max_size=6).map("".join)


def _document(body: str, size: str) -> bytes:
    return (f'<annotation xmlns:v="urn:v">\n<filename>a.jpg</filename>\n{size}{body}'
            "</annotation>\n").encode()


_size = st.sampled_from([
    "<size><width>100</width><height>80</height><depth>3</depth></size>\n",
    "<size><width>1<!--c-->00</width><height>80</height></size>\n",
    "<size><width>100</width><height>80</height></size><size><width>5</width></size>\n",
    "<Size><width>100</width><height>80</height></Size>\n", ""])


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname.lower() if isinstance(el.tag, str) else ""


def _must_account_for(root: etree._Element) -> tuple[list[etree._Element],
                                                      list[etree._Element]]:
    """(direct <object> elements, every other object-like element that must be read or
    reported per the module doc) — computed from the XML alone."""
    direct = [c for c in root if c.tag == "object"]
    others = [el for el in root.iter() if _local(el) == "object" and el not in direct]

    def first_exact(container: etree._Element, names: tuple[str, ...]) -> None:
        seen: set[str] = set()
        for c in container:
            if _local(c) not in names:
                continue
            if c.tag in seen or c.tag not in names or len(c) and c.tag not in ("bndbox",
                                                                               "size"):
                others.append(c)  # a second one, another case/namespace, or markup inside
            seen.add(str(c.tag))

    first_exact(root, ("size",))
    size = root.find("size")
    if size is not None:
        first_exact(size, ("width", "height"))
    for obj in direct:
        first_exact(obj, ("name", "bndbox"))
        bnd = obj.find("bndbox")
        if bnd is not None:
            first_exact(bnd, COORDS)
    return direct, others


def _check(data: bytes) -> None:
    try:
        ann, problems = parse_annotation(data, name="fuzz.xml")
    except VocError:
        return
    root = parse_root(data, "fuzz.xml")  # the reader's own hardened parse of the same bytes
    direct, others = _must_account_for(root)
    text = "\n".join(p.message for p in problems)
    unloaded = {int(k) for k in re.findall(r"<object> #(\d+) \(.*?\) .*not loaded", text)}
    assert len(ann.objects) + len(unloaded) == len(direct), text
    tree = root.getroottree()
    for el in others:
        assert f" at {tree.getpath(el)} " in text or f" at {tree.getpath(el)}\n" in text, \
            (tree.getpath(el), data.decode(), text)


@FUZZ
@given(_body, _size)
def test_every_object_like_element_is_read_or_reported(body: str, size: str) -> None:
    _check(_document(body, size))


@FUZZ
@given(_body, st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=3)), max_size=4))
def test_mangled_bytes_never_crash_the_reader(body: str, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(_document(body, ""))
    for pos, chunk in edits:
        pos %= len(data) + 1
        data[pos:pos + len(chunk) // 2] = chunk
    _check(bytes(data))


_LABELIMG_OBJECT = st.tuples(
    st.sampled_from(["cat", "dog", "a b", "é", ""]),
    st.tuples(*(st.integers(-3, 120) for _ in COORDS)),
    st.sampled_from(["", "", "<score>0.5</score>", "<score>x</score>"]),
    st.sampled_from(["", "", "", "", "", "", "<!--c-->", "<name>dup</name>", "<Name>x</Name>",
                     "<extra>1</extra>", "<object><name>in</name></object>", "<v:object/>"]),
).map(lambda t: (
    f"\t<object>\n\t\t<name>{t[0]}</name>\n\t\t<pose>Unspecified</pose>\n"
    "\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n\t\t<bndbox>\n"
    + "".join(f"\t\t\t<{c}>{v}</{c}>\n" for c, v in zip(COORDS, t[1]))
    + f"\t\t</bndbox>\n{t[2]}{t[3]}\t</object>\n"))


@FUZZ
@given(st.lists(_LABELIMG_OBJECT, max_size=4), st.sampled_from([False, False, False, True]))
def test_labelimg_layout_fast_path_agrees_with_the_full_reader(objects: list[str],
                                                               namespaced: bool) -> None:
    """LabelImg's own layout is read by regexes (core/voc_plain.py) when it is plain; with an
    anomaly spliced in, the full reader takes over. Either way: the same result as the full
    reader alone, and the property above."""
    import workbench.core.voc as voc

    head = '<annotation xmlns:v="urn:v" verified="yes">' if namespaced else \
        '<annotation verified="yes">'
    data = (f"{head}\n\t<folder>f</folder>\n\t<filename>a.jpg</filename>\n"
            "\t<size>\n\t\t<width>100</width>\n\t\t<height>80</height>\n\t\t<depth>3</depth>\n"
            "\t</size>\n\t<segmented>0</segmented>\n" + "".join(objects)
            + "</annotation>\n").encode()
    _check(data)
    try:
        fast = parse_annotation(data, name="f.xml")
    except VocError as exc:
        fast = str(exc)
    real = voc.read_plain
    voc.read_plain = lambda data: None  # the full (lxml) reader only
    try:
        try:
            full = parse_annotation(data, name="f.xml")
        except VocError as exc:
            full = str(exc)
    finally:
        voc.read_plain = real
    assert fast == full
