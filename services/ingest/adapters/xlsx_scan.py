"""What python-calamine cannot tell and must know before it loads a sheet: which cells are
formulas (it yields their cached values as plain values), and how much memory the load takes (it
builds a dense rows × columns grid and copies a shared string into every cell using it: a 2 KB
file with one value in A1 and one in XFD2000 costs it 1 GB).

Two passes over the sheet's XML, both streamed from the zip:
- the fast pass, bytes searches and one regex, covers the XML that Excel, WPS, LibreOffice and
  openpyxl write (`<c r="B5" …>` with the reference first, no namespace prefixes, a formula's `<f>`
  right after its cell's start tag); its bounds count every cell, empty styled ones too;
- the exact pass, expat, follows calamine's own rules for where a cell sits (its `r`, else the
  next column of the row) and counts only cells with a value; it runs when the fast pass cannot
  vouch for the file (other writers, array formulas) or its bounds are over the limits.
A sheet with <!DOCTYPE>, comments, CDATA or processing instructions is refused: no spreadsheet
writes them, and they would let the XML mean something else to calamine than to these passes.
"""

from __future__ import annotations

import re
import zipfile
from array import array
from collections.abc import Iterator
from itertools import accumulate
from xml.parsers import expat

from services.ingest.adapters.xlsx_package import CORRUPT, MB, Package, refused

MAX_COLUMNS = 256  # column IV, the old Excel limit: an order sheet has ~15
MAX_CELLS = 1_500_000  # of calamine's dense grid (rows × columns from A1): ~50 MB, ~1 s
MAX_SHARED_TEXT = 100 * MB  # shared-string bytes calamine copies into cells
MAX_ARRAY_FORMULAS = 256

_TOO_BIG = (
    "file.sheet_too_large",
    "工作表内容范围过大（行列过多或单元格文字过多），请只保留订单数据",
    "the sheet spans too many rows, columns or characters: keep only the order data",
)
_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
# A cell beyond column Z, or in row 20,000 or below (leading zeros count as digits: still safe).
_FAR_CELL = re.compile(rb'<c r="(?:[A-Za-z]{2}|[A-Za-z](?:[0-9]{6}|[2-9][0-9]{4}))')
_FORMULA_CELL = re.compile(rb'<c r="([A-Za-z]{1,3})([0-9]{1,7})"[^>]*>\s*<f[\s/>]')
_PREFIXED_TAG = re.compile(rb"<[^\s<>/!?:]+:")  # a prefixed end tag has a prefixed start tag
_CELL_ODD = (b"<c>", b"<c/", b"<c\t", b"<c\n", b"<c\r")
_FORMULA_TAGS = (b"<f>", b"<f ", b"<f/", b"<f\t", b"<f\n", b"<f\r")
_DATA_START = re.compile(rb"<(?:[^\s<>/!?:]+:)?sheetData[\s/>]")
_DATA_END = re.compile(rb"</(?:[^\s<>/!?:]+:)?sheetData\s*>")
_SI_END = re.compile(rb"</(?:[^\s<>/:]+:)?si\s*>")


class FormulaCells:
    """(row, column) of every formula cell, 0-based; array formulas as ranges."""

    def __init__(self) -> None:
        self.cells: set[tuple[int, int]] = set()
        self.ranges: list[tuple[int, int, int, int]] = []

    def __contains__(self, key: object) -> bool:
        if key in self.cells:
            return True
        if not self.ranges or not isinstance(key, tuple) or len(key) != 2:
            return False
        r, c = key
        return any(r1 <= r <= r2 and c1 <= c <= c2 for r1, c1, r2, c2 in self.ranges)

    def __len__(self) -> int:
        return len(self.cells) + len(self.ranges)

    @property
    def last_row(self) -> int:
        return max([r for r, _ in self.cells] + [r2 for _, _, r2, _ in self.ranges], default=-1)


def column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


def scan_sheet(package: Package) -> FormulaCells:
    """The sheet's formula cells, or SheetRefused when loading it would take too much memory."""
    bounds = _shared_string_bounds(package)
    longest = bounds[0] if bounds else 0
    formulas = _fast(_sheet_data(package), longest)
    if formulas is None:
        formulas = _exact(_sheet_data(package), bounds)
    return formulas


def _chunks(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    """The member's bytes in pieces cut just before an end tag: no tag is ever split."""
    carry = b""
    with archive.open(name) as stream:
        while piece := stream.read(MB):
            carry += piece
            cut = carry.rfind(b"</")
            if cut > 0:
                yield carry[:cut]
                carry = carry[cut:]
    if carry:
        yield carry


def _sheet_data(package: Package) -> Iterator[bytes]:
    """The bytes from <sheetData> to </sheetData> (calamine reads cells nowhere else)."""
    inside = False
    first = True
    for chunk in _chunks(package.zip, package.sheet_part):
        if first:
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
            head = chunk[:100].lower()
            if head.startswith(b"<?xml"):
                declaration, _, _ = head.partition(b"?>")
                if b"encoding" in declaration and not re.search(rb"utf-?8", declaration):
                    raise refused(*CORRUPT)  # UTF-16 and others: no spreadsheet writes them
                chunk = chunk[chunk.find(b"?>") + 2 :]
            first = False
        if b"<!" in chunk or b"<?" in chunk:
            raise refused(*CORRUPT)
        if not inside:
            found = _DATA_START.search(chunk)
            if found is None:
                continue
            if found.group().endswith(b"/"):
                return  # <sheetData/>: no cells
            inside, chunk = True, chunk[found.start() :]
        end = _data_end(chunk)
        if end >= 0:
            yield chunk[:end]
            return
        yield chunk


def _data_end(chunk: bytes) -> int:
    """Where </sheetData> ends in the chunk, or -1 (a bytes search first: the regex is slow)."""
    at = chunk.find(b"sheetData")
    while at >= 0:
        found = _DATA_END.match(chunk, chunk.rfind(b"<", 0, at))
        if found is not None:
            return found.end()
        at = chunk.find(b"sheetData", at + 1)
    return -1


def _fast(region: Iterator[bytes], longest: int) -> FormulaCells | None:
    """Searches only, no per-cell Python: None unless every cell is `<c r="…"` within A1:Z19999
    (so calamine's grid is at most 26 × 20,000) and the shared strings fit however they are used."""
    formulas = FormulaCells()
    cells = 0
    for chunk in region:
        opened = chunk.count(b"<c ")
        if chunk.count(b'<c r="') != opened or _FAR_CELL.search(chunk) or _PREFIXED_TAG.search(chunk):
            return None  # a reference not first, beyond Z or row 19,999; prefixed tags
        if chunk.count(b"<c") != opened and any(odd in chunk for odd in _CELL_ODD):
            return None  # (the other "<c" are rich-text tags such as <color>)
        cells += opened
        if b"<f" in chunk and any(tag in chunk for tag in _FORMULA_TAGS):
            found = _FORMULA_CELL.findall(chunk)
            if len(found) != sum(chunk.count(tag) for tag in _FORMULA_TAGS) or b"array" in chunk:
                return None  # a formula not right after its cell's tag, or an array formula
            formulas.cells.update((int(d) - 1, column_index(c.decode())) for c, d in found)
    if cells * longest > MAX_SHARED_TEXT:
        return None
    return formulas


def _exact(region: Iterator[bytes], bounds: array[int]) -> FormulaCells:
    formulas = FormulaCells()
    state = _Exact(formulas, bounds)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = state.start
    parser.CharacterDataHandler = state.text
    try:
        parser.Parse(b"<root>", False)
        for chunk in region:
            parser.Parse(chunk, False)
        parser.Parse(b"</root>", True)
    except expat.ExpatError as e:
        raise refused(*CORRUPT) from e
    state.flush()
    # An array formula's range reaches no further than the sheet's cells (a crafted one might
    # claim the whole sheet).
    formulas.ranges = [
        (r1, c1, min(r2, state.last_row), min(c2, state.width - 1)) for r1, c1, r2, c2 in formulas.ranges
    ]
    return formulas


class _Exact:
    """Start-element handler mirroring calamine's cell positions (xlsx/cells_reader.rs): a row's
    `r` sets the row, a row without one is the next; a cell's `r` sets its place, a cell without
    one takes the column after the previous cell."""

    def __init__(self, formulas: FormulaCells, bounds: array[int]):
        self.formulas = formulas
        self.bounds = bounds
        self.row = -1
        self.col = 0
        self.at = (0, 0)
        self.shared = False
        self.counted = True
        self.last_row = -1
        self.width = 0
        self.text_bytes = 0
        self.index: list[str] | None = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self.index is not None:
            self.flush()
        local = name.rpartition(":")[2] if ":" in name else name
        if local == "c":
            ref = attrs.get("r")
            if ref is None:
                self.at = (self.row, self.col)
            else:
                m = _REF.fullmatch(ref)
                if m is None or int(m[2]) == 0:
                    raise refused(*CORRUPT)
                self.at = (int(m[2]) - 1, column_index(m[1]))
            self.col = self.at[1] + 1
            self.shared = attrs.get("t") == "s"
            self.counted = False
        elif local in ("v", "is", "f"):
            if not self.counted:
                self._extend()
            if local == "f":
                self._formula(attrs)
            elif local == "v" and self.shared:
                self.index = []
        elif local == "row":
            ref = attrs.get("r")
            if ref is not None and not (ref.isdigit() and 0 < int(ref) <= 1_048_576):
                raise refused(*CORRUPT)
            self.row = int(ref) - 1 if ref is not None else self.row + 1
            self.col = 0

    def text(self, data: str) -> None:
        if self.index is not None:
            self.index.append(data)

    def flush(self) -> None:
        """Charge the shared string a <v> named: the longest it can be (an unreadable index: the
        longest of all)."""
        if self.index is None:
            return
        text, self.index = "".join(self.index).strip(), None
        i = int(text) if text.isdigit() and len(text) < 10 else 0
        self.text_bytes += self.bounds[i] if i < len(self.bounds) else (self.bounds[0] if self.bounds else 0)
        if self.text_bytes > MAX_SHARED_TEXT:
            raise refused(*_TOO_BIG)

    def _extend(self) -> None:
        self.counted = True
        row, col = self.at
        self.last_row = max(self.last_row, row)
        self.width = max(self.width, col + 1)
        if self.width > MAX_COLUMNS or (self.last_row + 1) * self.width > MAX_CELLS:
            raise refused(*_TOO_BIG)

    def _formula(self, attrs: dict[str, str]) -> None:
        self.formulas.cells.add(self.at)
        ref = attrs.get("ref", "")
        if attrs.get("t") in ("array", "dataTable") and ref:
            ends = []
            for part in ref.split(":"):
                m = _REF.fullmatch(part)
                if m is None or int(m[2]) == 0:
                    raise refused(*CORRUPT)
                ends.append((int(m[2]) - 1, column_index(m[1])))
            if len(ends) > 2 or len(self.formulas.ranges) >= MAX_ARRAY_FORMULAS:
                raise refused(*CORRUPT)
            (r1, c1), (r2, c2) = ends[0], ends[-1]
            self.formulas.ranges.append((min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)))


def _shared_string_bounds(package: Package) -> array[int]:
    """Per shared-string index, the most bytes it can hold: the longest raw <si> from there on.
    (calamine skips an <si> without text, so its i-th string is some <si> at or after the i-th;
    raw XML is never shorter than the text it spells.) Index 0 holds the longest of all."""
    if package.shared_strings is None:
        return array("q")
    lengths = array("q")
    carried = 0  # the start of a string the previous chunk ended in
    for chunk in _chunks(package.zip, package.shared_strings):
        if b"<!" in chunk:
            raise refused(*CORRUPT)
        pieces = chunk.split(b"</si>") if b":si>" not in chunk else _SI_END.split(chunk)
        sizes = list(map(len, pieces))
        sizes[0] += carried
        lengths.extend(sizes[:-1])
        carried = sizes[-1]
    lengths.append(carried)
    suffix_max = list(accumulate(reversed(lengths), max))
    return array("q", reversed(suffix_max))
