"""Vectorised reading of whitespace-separated text: token bounds and exact decimal numbers.

The results readers (:mod:`workbench.core.results`) read millions of numbers; a Python
``float()`` per token runs at a few million a second, numpy's text parsing not much faster.
Here a whole buffer is handled with a few numpy passes over its bytes:

* :func:`tokens` — start/end of every token and the line it is on (separators: space, tab,
  newline);
* :func:`parse_decimals` — the value of number tokens, **bit-identical to ``float()``**,
  first *right-aligned* (``_right_aligned``: tokens of up to 8 bytes, each one 8-byte load
  shifted to end at the last byte, so that a ``printf`` ``%.Nf`` column of any lengths has
  every digit at a fixed place; :func:`parse_columns` does a whole table so, each column
  with its own dot place), then by *layout* per length (``_by_layout``: the tokens of one
  length with the dot at one place gathered into a byte matrix whose integer mantissas are
  one matrix-vector product), else column by column (``_clinger``), else numpy's parser:
  a token ``[-]digits[.digits]`` with at most 15 significant digits is the integer mantissa
  (exact in a double) divided by ``10**k`` (``k <= 22``, exact too), and one IEEE division
  of two exact values is the correctly rounded result — the same double ``float()`` gives
  (Clinger's fast path). Anything else (exponents, ``+``, more digits, stray characters)
  falls back to ``numpy.fromstring``, which parses with Python's own correctly rounded
  ``PyOS_string_to_double``; a token it cannot read makes the whole call return ``None``
  so the caller can find and name the bad line the slow way.

Callers must make sure the text uses only the separators above (no ``\\r``, form feeds or
Unicode spaces): :func:`plain_separators` says so.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

_SPACE, _TAB, _NL = 32, 9, 10
_UNICODE_SPACE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_POW10 = 10.0 ** np.arange(23)
_IPOW10 = 10 ** np.arange(16, dtype=np.int64)
_CHUNK = 1 << 20  # tokens per pass
#: Rows per block of :func:`parse_columns`: whole columns of 10^5-10^6 tokens ran 2x slower
#: per number than blocks whose bytes and temporaries fit in the CPU caches.
_BLOCK = 16384


def plain_separators(data: bytes) -> bytes | None:
    """``data`` with ``\\r\\n`` turned into ``\\n`` when its only whitespace is space, tab and
    newline — the text then splits into the same lines and fields as ``str.splitlines`` /
    ``str.split`` would split it; ``None`` when it holds other separators (``\\r`` alone, form
    feed, vertical tab, ``\\x1c``-``\\x1f``, NUL, Unicode spaces) or is not UTF-8."""
    if b"\r" in data:  # (one byte: a memchr; a two-byte search costs 20x more)
        data = data.replace(b"\r\n", b"\n")
    arr = np.frombuffer(data, dtype=np.uint8)
    # \r alone, \v, \f, \x1c-\x1f, NUL, DEL and other control characters: every byte below
    # 32 is a tab or a newline (three counts, no deleting copy of the text)
    if (np.count_nonzero(arr < _SPACE) != np.count_nonzero(arr == _TAB)
            + np.count_nonzero(arr == _NL) or np.count_nonzero(arr == 127)):
        return None
    if not data.isascii():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if _UNICODE_SPACE.search(text):
            return None
    return data


def tokens(buf: np.ndarray, *, lines: bool = True
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(starts, ends, line)`` of the tokens of a ``uint8`` buffer: ``buf[starts[i]:ends[i]]``
    is token ``i``, on 0-based line ``line[i]`` (None unless ``lines``); separators: space,
    tab, newline (and, for :func:`plain_separators` text, nothing else is ``<= 32``)."""
    word = buf > _SPACE
    change = np.flatnonzero(word[1:] != word[:-1])  # alternately a start and an end (- 1)
    change += 1
    if len(buf) and word[0]:
        change = np.concatenate([np.zeros(1, dtype=change.dtype), change])
    if len(buf) and word[-1]:
        change = np.concatenate([change, np.full(1, len(buf), dtype=change.dtype)])
    starts, ends = change[0::2], change[1::2]
    line = np.searchsorted(np.flatnonzero(buf == _NL), starts) if lines else None
    return starts, ends, line


def parse_decimals(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """The float value of each token ``buf[starts[i]:ends[i]]`` (see the module doc), or
    ``None`` when one of them is not a number ``float()`` reads."""
    n = len(starts)
    if n == 0:
        return np.zeros(0)
    out = np.empty(n)
    for lo in range(0, n, _CHUNK):  # bounded temporaries: a few arrays of one chunk's bytes
        s, e = starts[lo:lo + _CHUNK], ends[lo:lo + _CHUNK]
        values = _by_layout(buf, s, e)
        if values is None:
            values = _clinger(buf, s, e)
        if values is None:
            values = _fromstring(buf[s[0]:e[-1]], s - s[0], e - s[0])
            if values is None:
                return None
        out[lo:lo + len(s)] = values
    return out


def parse_columns(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """:func:`parse_decimals` of a ``(rows, columns)`` table of tokens, a column at a time
    (each column's width is its own: ids are short, scores long) → ``(rows, columns)``."""
    out = np.empty(starts.shape)
    for lo in range(0, len(starts), _BLOCK):  # a block's bytes and temporaries stay in cache
        block = _right_aligned_columns(buf, starts[lo:lo + _BLOCK], ends[lo:lo + _BLOCK])
        if block is not None:
            out[lo:lo + _BLOCK] = block
            continue
        for k in range(starts.shape[1]):
            column = parse_decimals(buf, np.ascontiguousarray(starts[lo:lo + _BLOCK, k]),
                                    np.ascontiguousarray(ends[lo:lo + _BLOCK, k]))
            if column is None:
                return None
            out[lo:lo + _BLOCK, k] = column
    return out


def same_token(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, token: bytes,
               skeleton_chars: bytes = b"") -> bool:
    """Whether every token ``buf[starts[i]:ends[i]]`` equals ``token``.

    With ``skeleton_chars``, the caller already knows that every token with those characters
    deleted equals ``token`` with them deleted; then equal lengths and equal bytes where
    ``token`` holds one of them suffice (the token then has exactly those characters at
    exactly those places), which is one or two byte columns instead of all."""
    if not (ends - starts == len(token)).all():
        return False
    places = [j for j, c in enumerate(token) if not skeleton_chars or c in skeleton_chars]
    return all((buf[starts + j] == token[j]).all() for j in places)


def _u64_view(buf: np.ndarray) -> np.ndarray:
    """Every 8 bytes of ``buf`` as a little-endian ``uint64``, one per byte offset (``view[i]``
    holds ``buf[i:i + 8]``, byte ``i`` lowest): an 8-byte token gathers in one load."""
    return np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))


_SHIFT_RIGHT_ALIGN = np.array([64 - 8 * n if n else 0 for n in range(9)], dtype=np.uint64)
#: ``'0'`` bytes in the ``8 - n`` low bytes left empty by right-aligning an ``n``-byte token.
_ZERO_FILL = np.array([int.from_bytes(b"0" * (8 - n), "little") for n in range(9)],
                      dtype=np.uint64)


def _right_weights(fraction: int, dtype: type) -> np.ndarray:
    """Place values of 8 right-aligned bytes whose dot is ``fraction`` places from the end
    (``fraction < 0``: no dot)."""
    return _layout_weights(8, 7 - fraction if fraction >= 0 else 8).astype(dtype)


def _right_aligned(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray
                   ) -> np.ndarray | None:
    """Tokens of 1 to 8 bytes with the dot (if any) the same number of places before the
    end in every one — a ``printf`` ``%.Nf`` column, whatever the lengths: each token is one
    8-byte load, shifted so that it ends at the last byte and filled with ``'0'`` in front;
    then every digit has a fixed place value in all rows, and the integer mantissas are one
    matrix-vector product over ``(rows, 8)`` digits. Float32 when at most 7 digits (every
    product and sum an integer below ``2**24``, so exact), else float64 (below ``2**53``);
    one correctly rounded division by the power of ten (Clinger's fast path, as
    :func:`_by_layout`). Accepts what :func:`_clinger` accepts; ``None`` when a token is
    anything else or its dot is elsewhere (the caller then tries the layouts per length)."""
    if int(starts.max()) + 8 > len(buf):  # callers pad; a bare buffer is read safely
        buf = np.concatenate([buf, np.full(8, _SPACE, dtype=np.uint8)])
    words = _u64_view(buf)[starts]
    words <<= _SHIFT_RIGHT_ALIGN[lengths]  # the token in the high bytes, zeros below
    words |= _ZERO_FILL[lengths]
    cells = words.view(np.uint8).reshape(-1, 8)
    first = bytes(cells[0, 8 - int(lengths[0]):])
    fraction = len(first) - 1 - first.find(b".") if b"." in first else -1
    shortest = 2 if fraction >= 0 else 1  # a digit besides the dot
    if fraction >= 7 or int(lengths.min()) < shortest:
        return None
    if fraction >= 0:
        if not (cells[:, 7 - fraction] == 46).all():
            return None
        cells[:, 7 - fraction] = 48
    minus = cells == 45
    negative = None
    if minus.any():  # a leading '-' reads as a '0'; any other '-' fails the digit test below
        rows = np.flatnonzero(minus.any(axis=1))
        lead = 8 - lengths[rows]
        rows = rows[cells[rows, lead] == 45]
        if len(rows) and int(lengths[rows].min()) < shortest + 1:
            return None  # '-' or '-.' without a digit
        cells[rows, 8 - lengths[rows]] = 48
        negative = rows
    cells -= np.uint8(48)  # digits 0-9; other bytes wrap around above 9
    if (cells > 9).any():
        return None
    digits = int(lengths.max()) - (fraction >= 0)
    exact32 = digits <= 7
    values = cells.astype(np.float32 if exact32 else np.float64) @ _RIGHT_WEIGHTS[
        (fraction, np.float32 if exact32 else np.float64)]
    values = values.astype(np.float64) if exact32 else values
    if fraction > 0:
        values /= _POW10[fraction]
    if negative is not None and len(negative):
        values[negative] = -values[negative]
    return values


def _right_aligned_columns(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
                           ) -> np.ndarray | None:
    """:func:`_right_aligned` of every column of a ``(rows, columns)`` token table at once,
    each column with its own dot place (a detector's ids, boxes and scores): one gather, one
    digit test and one batched matrix-vector product for the whole table instead of a pass
    per column. ``None`` when a column is not one ``%.Nf`` layout of at most 8 bytes or a
    token is anything else (the caller then reads column by column)."""
    rows, columns = starts.shape
    if rows == 0 or columns == 0:
        return None
    first = starts.T.copy()  # (columns, rows): each column's tokens contiguous
    lengths = ends.T - first
    if int(lengths.max()) > 8 or int(lengths.min()) < 1:
        return None
    if int(first.max()) + 8 > len(buf):
        buf = np.concatenate([buf, np.full(8, _SPACE, dtype=np.uint8)])
    words = _u64_view(buf)[first]
    words <<= _SHIFT_RIGHT_ALIGN[lengths]
    words |= _ZERO_FILL[lengths]
    cells = words.view(np.uint8).reshape(columns, rows, 8)
    fractions = []
    for k in range(columns):  # each column's dot place, from its first token
        token = bytes(cells[k, 0, 8 - int(lengths[k, 0]):])
        fraction = len(token) - 1 - token.find(b".") if b"." in token else -1
        if fraction >= 7 or int(lengths[k].min()) < (2 if fraction >= 0 else 1):
            return None
        if fraction >= 0:
            if not (cells[k, :, 7 - fraction] == 46).all():
                return None
            cells[k, :, 7 - fraction] = 48
        fractions.append(fraction)
    if (cells == 45).any():
        return None  # negative numbers: column by column (rare in results)
    cells -= np.uint8(48)  # digits 0-9; other bytes wrap around above 9
    if (cells > 9).any():
        return None
    digits = max(int(lengths[k].max()) - (f >= 0) for k, f in enumerate(fractions))
    kind = np.float32 if digits <= 7 else np.float64  # exact integers either way
    weights = np.stack([_RIGHT_WEIGHTS[(f, kind)] for f in fractions])[:, :, None]
    values = np.matmul(cells.astype(kind), weights)[:, :, 0].astype(np.float64, copy=False)
    scale = _POW10[np.maximum(fractions, 0)][:, None]  # (x / 1.0 is x: no-dot columns too)
    values /= scale
    return values.T


def _by_layout(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Clinger's fast path (see :func:`_clinger`) for tokens of one *layout* per length —
    the dot at the same place, as a ``printf`` format writes them (``%.1f`` gives a handful of
    lengths, one layout each). Inside a layout every digit has a fixed place value, so the
    tokens are gathered into a ``(rows, length)`` byte matrix and the integer mantissas come
    from one matrix-vector product (digit × power of ten: exact integers below 2**53, so
    exact in any order), then one division by the power of ten of the fraction digits.
    Accepts exactly what :func:`_clinger` accepts (``[-]digits[.digits]``, 1 to 15 digits);
    ``None`` when a token is anything else, or a length holds two layouts (``1.5``, ``100``;
    the caller then runs ``_clinger``)."""
    n = len(starts)
    lengths = ends - starts
    if n and int(lengths.max()) <= 8:
        values = _right_aligned(buf, starts, lengths)
        if values is not None:
            return values
    per_length = np.bincount(lengths)
    if len(per_length) > 18 or np.count_nonzero(per_length) > 8:
        return None
    longest = len(per_length) - 1
    if int(starts.max()) + longest > len(buf):  # callers pad; a bare buffer is read safely
        buf = np.concatenate([buf, np.full(longest, _SPACE, dtype=np.uint8)])
    windows = np.lib.stride_tricks.sliding_window_view(buf, longest)
    out = np.empty(n)
    for width in np.flatnonzero(per_length).tolist():
        rows = None if per_length[width] == n else np.flatnonzero(lengths == width)
        cells = windows[starts if rows is None else starts[rows], :width]  # a copy
        first = bytes(cells[0])
        dot = first.find(b".")
        dot = width if dot < 0 else dot
        count = width - (dot < width)  # digit places (a leading '-' among them)
        if not 1 <= count <= 15 or (dot < width and not (cells[:, dot] == 46).all()):
            return None
        negative = cells[:, 0] == 45
        any_negative = bool(negative.any())
        if any_negative:
            if count == 1:
                return None  # '-' or '-.' alone: no digit
            cells[negative, 0] = 48  # a leading '-' reads as a leading zero; the sign below
        cells -= np.uint8(48)  # digits 0-9; other bytes wrap around above 9
        if dot < width:
            cells[:, dot] = 0
        if (cells > 9).any():
            return None
        weights = _WEIGHTS[width][dot]
        values = cells.astype(np.float64) @ weights
        if dot < width - 1:
            values /= _POW10[width - 1 - dot]
        if any_negative:
            np.negative(values, out=values, where=negative)
        if rows is None:
            out[:] = values
        else:
            out[rows] = values
    return out


def _layout_weights(width: int, dot: int) -> np.ndarray:
    """Place value of each of ``width`` bytes with a dot at ``dot`` (``width``: no dot)."""
    places = np.arange(width) != dot
    right = np.cumsum(places[::-1])[::-1] - 1  # digit places to the right of each one
    return np.where(places, _POW10[np.maximum(right, 0)], 0.0)


_WEIGHTS = [[_layout_weights(w, d) for d in range(w + 1)] for w in range(18)]
_RIGHT_WEIGHTS = {(f, t): _right_weights(f, t) for f in range(-1, 7)
                  for t in (np.float32, np.float64)}


def _clinger(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    lengths = ends - starts
    width = int(lengths.max())
    if width > 17:  # '-' + 15 digits + '.': longer tokens take the general path
        return None
    n = len(starts)
    if int(ends.max()) + width > len(buf):  # callers pad; a bare buffer is read safely
        buf = np.concatenate([buf, np.full(width, _SPACE, dtype=np.uint8)])
    mantissa = np.zeros(n)
    digits = np.zeros(n, dtype=np.int8)
    frac = np.zeros(n, dtype=np.int8)
    seen_dot = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    negative = (buf[starts] == 45) & (lengths > 1)
    position = starts.copy()
    for j in range(width):  # column j of every token at once (Horner on the mantissa)
        c = buf[position]
        position += 1
        valid = lengths > j
        value = c - np.uint8(48)  # wraps around for bytes below '0'
        digit = (value < 10) & valid
        dot = (c == 46) & valid
        bad |= (dot & seen_dot) | (valid & ~(digit | dot))
        if j == 0:
            bad &= ~negative
        seen_dot |= dot
        # exact: the mantissa stays below 10**15 < 2**53
        np.copyto(mantissa, mantissa * 10.0 + value, where=digit)
        digits += digit
        frac += digit & seen_dot
    if bad.any() or digits.min() == 0 or digits.max() > 15:
        return None
    values = mantissa / _POW10[frac]  # both exact: one correctly rounded division
    np.negative(values, out=values, where=negative)
    return values


def _fromstring(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """numpy's text parser over just these tokens (others blanked); ``None`` on a bad one."""
    cover = np.zeros(len(buf) + 1, dtype=np.int32)
    np.add.at(cover, starts, 1)
    np.add.at(cover, ends, -1)
    inside = np.cumsum(cover[:-1]) > 0
    chars = buf[inside]
    allowed = ((chars >= 48) & (chars <= 57)) | np.isin(chars, np.frombuffer(b".eE+-", np.uint8))
    if not allowed.all():  # hex, nan, inf, '_' …: float() and strtod disagree on some
        return None
    text = np.where(inside, buf, np.uint8(_SPACE)).tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(text, dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    return values if len(values) == len(starts) else None


def ascii_tokens(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str]:
    """The tokens ``buf[starts[i]:ends[i]]`` as ``str``, for ASCII text without NUL bytes
    (:func:`plain_separators` text that ``isascii()``): gathered 8 bytes at a time (unaligned
    ``uint64`` loads masked to each token's length) into one byte matrix with a newline after
    each token, the NUL padding deleted and the whole decoded and split at once — the ``str``
    objects made by one C call, not one slice and decode (nor one numpy ``str_``) per token."""
    if len(starts) == 0:
        return []
    lengths = ends - starts
    words = (int(lengths.max()) + 7) // 8
    if int(starts.max()) + 8 * words > len(buf):
        buf = np.concatenate([buf, np.full(8 * words, _SPACE, dtype=np.uint8)])
    view = _u64_view(buf)
    cells = np.empty((len(starts), words + 1), dtype=np.uint64)
    for w in range(words):
        cells[:, w] = view[starts + 8 * w] & _LOW_BYTES[np.clip(lengths - 8 * w, 0, 8)]
    cells[:, words] = _NL  # a newline, then seven NULs
    text = cells.astype("<u8", copy=False).tobytes().translate(None, b"\x00").decode("ascii")
    return text.split("\n")[:-1]


def run_starts(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Indices ``i`` where token ``i`` differs from token ``i - 1`` (0 always): the starts of
    the runs of equal tokens, compared byte for byte — 8 bytes at a time (one unaligned
    ``uint64`` load per token and word, masked to its length)."""
    n = len(starts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    lengths = ends - starts
    differs = lengths[1:] != lengths[:-1]
    longest = int(lengths.max())
    if int(starts.max()) + longest + 8 > len(buf):
        buf = np.concatenate([buf, np.full(longest + 8, _SPACE, dtype=np.uint8)])
    words = _u64_view(buf)
    for offset in range(0, longest, 8):
        word = words[starts + offset]
        left = np.clip(lengths - offset, 0, 8)  # bytes of the token in this word
        word &= _LOW_BYTES[left]
        differs |= word[1:] != word[:-1]
    return np.flatnonzero(np.r_[True, differs])


#: ``_LOW_BYTES[k]``: a ``uint64`` mask of its ``k`` low bytes (little-endian: a word's first
#: ``k`` bytes).
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
