"""Read the ``DT_NEEDED`` entries of ELF shared libraries (pure Python, no binutils).

Used by ``workbench.spec`` to tell which bundled CUDA libraries the loader needs when ``torch`` is
imported (they must stay) from those torch only ``dlopen``s on a GPU (a CPU bundle drops them).
Handles 64- and 32-bit, little- and big-endian ELF files.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

_DT_NULL, _DT_NEEDED, _DT_STRTAB = 0, 1, 5
_PT_LOAD, _PT_DYNAMIC = 1, 2


class NotElfError(ValueError):
    """The file is not an ELF object."""


def needed(path: str | Path) -> list[str]:
    """The ``DT_NEEDED`` sonames of ``path`` in file order; [] for an ELF without a dynamic section.

    Reads only the headers, the dynamic section and the names (libtorch_cuda.so is 500 MB).
    Raises NotElfError naming the file when it is not ELF.
    """
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or len(ident) < 52:
            raise NotElfError(f"{path}: not an ELF file")
        is64 = ident[4] == 2
        end = "<" if ident[5] == 1 else ">"
        if is64:
            phoff, = struct.unpack_from(end + "Q", ident, 0x20)
            phentsize, phnum = struct.unpack_from(end + "HH", ident, 0x36)
            ph_fmt, dyn_fmt = end + "IIQQQQ", end + "qQ"
        else:
            phoff, = struct.unpack_from(end + "I", ident, 0x1C)
            phentsize, phnum = struct.unpack_from(end + "HH", ident, 0x2A)
            ph_fmt, dyn_fmt = end + "IIIII", end + "iI"
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
        dynamic: tuple[int, int] | None = None  # (offset, size)
        for i in range(phnum):
            fields = struct.unpack_from(ph_fmt, table, i * phentsize)
            if is64:
                p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = fields
            else:
                p_type, p_offset, p_vaddr, _paddr, p_filesz = fields
            if p_type == _PT_LOAD:
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == _PT_DYNAMIC:
                dynamic = (p_offset, p_filesz)
        if dynamic is None:
            return []
        f.seek(dynamic[0])
        section = f.read(dynamic[1])
        entry_size = struct.calcsize(dyn_fmt)
        strtab_vaddr = None
        offsets: list[int] = []
        for pos in range(0, len(section) - entry_size + 1, entry_size):
            tag, value = struct.unpack_from(dyn_fmt, section, pos)
            if tag == _DT_NULL:
                break
            if tag == _DT_NEEDED:
                offsets.append(value)
            elif tag == _DT_STRTAB:
                strtab_vaddr = value
        if strtab_vaddr is None:
            return []
        # DT_STRTAB is a virtual address: map it to a file offset through its PT_LOAD segment.
        strtab = next((off + strtab_vaddr - vaddr for vaddr, off, size in loads
                       if vaddr <= strtab_vaddr < vaddr + size), strtab_vaddr)
        names = []
        for offset in offsets:
            f.seek(strtab + offset)
            raw = f.read(4096)
            names.append(raw.split(b"\0", 1)[0].decode())
        return names


def needed_closure(roots: Iterable[str | Path], available: dict[str, Path]) -> set[str]:
    """Sonames in ``available`` (soname -> file) reachable through ``DT_NEEDED`` from ``roots``.

    A library outside ``available`` (the C library, ...) is not followed.
    """
    seen: set[str] = set()
    stack = [Path(p) for p in roots]
    while stack:
        path = stack.pop()
        try:
            names = needed(path)
        except (NotElfError, OSError):
            continue
        for name in names:
            if name in available and name not in seen:
                seen.add(name)
                stack.append(available[name])
    return seen
