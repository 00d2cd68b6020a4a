"""Re-saving a big annotation (issue 12): linear, and exactly the file with one box moved."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.core import voc_write
from workbench.core.voc import parse_annotation, annotation_to_bytes, write_annotation

N = 3000


def _object(i: int, xmin: int | None = None) -> str:
    x, y = (i * 7) % 3900 + 1, (i * 13) % 2900 + 1
    x = x if xmin is None else xmin
    return (f"\t<object>\n\t\t<name>c{i % 20}</name>\n\t\t<pose>Unspecified</pose>\n"
            f"\t\t<truncated>0</truncated>\n\t\t<difficult>{i % 7 == 0:d}</difficult>\n"
            f"\t\t<bndbox>\n\t\t\t<xmin>{x}</xmin>\n\t\t\t<ymin>{y}</ymin>\n"
            f"\t\t\t<xmax>{x + 49}</xmax>\n\t\t\t<ymax>{y + 59}</ymax>\n\t\t</bndbox>\n"
            "\t</object>\n")


def _file(objects: list[str], extra: str = "") -> bytes:
    head = ("<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>big.jpg</filename>\n"
            "\t<path>/data/big.jpg</path>\n\t<source>\n\t\t<database>Unknown</database>\n"
            "\t</source>\n\t<size>\n\t\t<width>4000</width>\n\t\t<height>3000</height>\n"
            "\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n")
    return (head + "".join(objects) + extra + "</annotation>\n").encode()


def _moved(ann, index: int, dx: float):
    objs = list(ann.objects)
    o = objs[index]
    objs[index] = dataclasses.replace(o, box=(o.box[0] + dx, o.box[1], o.box[2] + dx, o.box[3]))
    return dataclasses.replace(ann, objects=tuple(objs))


@pytest.fixture
def rebuilt(monkeypatch):
    """Counts the <object> elements the writer builds (rather than reuses)."""
    calls: list[object] = []
    real = voc_write._object_element

    def counting(obj):
        calls.append(obj)
        return real(obj)

    monkeypatch.setattr(voc_write, "_object_element", counting)
    return calls


def test_moving_one_box_of_many_changes_exactly_that_box(tmp_path, rebuilt):
    objects = [_object(i) for i in range(N)]
    data = _file(objects)
    ann, problems = parse_annotation(data, name="big.xml")
    assert problems == [] and len(ann.objects) == N
    k = N // 2
    out = annotation_to_bytes(_moved(ann, k, 5))
    x = (k * 7) % 3900 + 1
    objects[k] = _object(k, xmin=x + 5).replace(f"<xmax>{x + 49}<", f"<xmax>{x + 54}<")
    assert out == _file(objects)
    assert len(rebuilt) == 1  # one element rebuilt, the other 2,999 reused as they stand

    # written, read back, moved again: still exactly one box changed, one element rebuilt
    path = tmp_path / "big.xml"
    written = write_annotation(_moved(ann, k, 5), path)
    assert path.read_bytes() == out
    again, _ = parse_annotation(path.read_bytes(), name="big.xml")
    rebuilt.clear()
    out2 = annotation_to_bytes(_moved(again, 0, -1))
    objects[0] = _object(0, xmin=0).replace("<xmax>50<", "<xmax>49<")
    assert out2 == _file(objects)
    assert len(rebuilt) == 1
    # the record written keeps working as a base for the next save (its objects' raw are
    # the old serialisations: the moved box is rebuilt from its raw, nothing else changes)
    rebuilt.clear()
    assert annotation_to_bytes(_moved(written, 1, 0)) == path.read_bytes()
    assert len(rebuilt) == 0


def test_unchanged_many_objects_written_back_byte_for_byte():
    data = _file([_object(i) for i in range(N)])
    ann, _ = parse_annotation(data, name="big.xml")
    assert annotation_to_bytes(ann) == data


def test_reorder_delete_and_duplicates_among_many(rebuilt):
    objects = [_object(i) for i in range(200)]
    extra = "\t<!-- kept -->\n\t<object>\n\t\t<name>nobox</name>\n\t</object>\n"
    data = _file(objects, extra)
    ann, _ = parse_annotation(data, name="f.xml")
    objs = list(ann.objects)
    # delete #3, swap #0/#1, duplicate #5 at the end (the same record twice)
    new = [objs[1], objs[0], objs[2]] + objs[4:] + [objs[5]]
    out = annotation_to_bytes(dataclasses.replace(ann, objects=tuple(new)))
    order = [1, 0, 2] + list(range(4, 200)) + [5]
    assert out == _file([objects[i] for i in order], extra)
    assert len(rebuilt) == 1  # only the second copy of #5 is built again


def test_odd_flags_are_still_normalised_on_rewrite():
    objects = [_object(i) for i in range(20)]
    objects[3] = objects[3].replace("<truncated>0</truncated>", "<truncated>0.0</truncated>")
    ann, _ = parse_annotation(_file(objects), name="f.xml")
    out = annotation_to_bytes(_moved(ann, 0, 1))
    assert b"<truncated>0.0</truncated>" not in out
    assert out.count(b"<truncated>0</truncated>") == 20


def test_a_file_the_reader_would_refuse_is_not_written(tmp_path, monkeypatch):
    import errno

    data = _file([_object(i) for i in range(50)])
    ann, _ = parse_annotation(data, name="f.xml")
    path = tmp_path / "f.xml"
    path.write_bytes(data)
    monkeypatch.setattr(voc_write, "MAX_XML_BYTES", len(data))
    with pytest.raises(OSError, match="over the .*-byte limit of the VOC reader") as info:
        write_annotation(dataclasses.replace(ann, objects=ann.objects + ann.objects[:1]), path)
    assert info.value.errno == errno.EFBIG
    assert path.read_bytes() == data  # untouched


def test_the_next_save_of_a_written_file_does_not_read_it_again(tmp_path, monkeypatch):
    objects = [_object(i) for i in range(400)]
    ann, _ = parse_annotation(_file(objects), name="f.xml")
    # a fractional box and a new box without raw: written rounded / fresh
    objs = list(ann.objects)
    objs[7] = dataclasses.replace(objs[7], box=(10.4, 20.6, 50.2, 60.5))
    objs.append(voc_write.VocObject("new", (1.0, 1.0, 5.0, 5.0)))
    path = tmp_path / "f.xml"
    written = write_annotation(dataclasses.replace(ann, objects=tuple(objs)), path)
    reads: list[bytes] = []
    real = voc_write.read_plain
    monkeypatch.setattr(voc_write, "read_plain", lambda raw: reads.append(raw) or real(raw))
    for edit in (lambda a: _moved(a, 3, 2), lambda a: a,
                 lambda a: dataclasses.replace(a, objects=a.objects[:-1])):
        again = edit(written)
        cached = annotation_to_bytes(again)
        assert reads == []
        voc_write._WRITTEN.clear()  # the same bytes when the file is read again
        assert annotation_to_bytes(again) == cached
        assert len(reads) == 1
        written = write_annotation(again, path)  # (reads its base again: the cache was cleared)
        assert path.read_bytes() == cached
        reads.clear()
