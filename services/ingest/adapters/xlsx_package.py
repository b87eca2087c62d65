"""An uploaded workbook as a zip package, checked before any spreadsheet library sees it: size,
format, zip-bomb limits, and which sheet python-calamine will read (the first visible worksheet,
its part resolved as calamine resolves it).

Every member is inflated once here with zlib, counting bytes, so a member that inflates past its
declared size is refused after at most one chunk beyond it; the declared sizes themselves are
checked first, so a 300 MB member of zeros is refused without inflating a byte of it.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree

from services.ingest.domain.sheet_rows import SheetRefused

MB = 1024 * 1024
MAX_FILE_BYTES = 10 * MB
MAX_MEMBERS = 1000  # a workbook has ~10 parts; hundreds only with many pictures
MAX_UNCOMPRESSED = 100 * MB  # all members together, as declared (a 10,000-row sheet is ~5 MB)
MAX_RATIO = 200  # deflate of real sheet XML gives 5-20×; zeros give ~1000×
RATIO_FLOOR = MB  # members smaller than this may compress better and harm nothing
_CHUNK = 256 * 1024

_OLE2 = bytes.fromhex("d0cf11e0a1b11ae1")  # .xls, and also a password-protected .xlsx
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def refused(code: str, zh: str, en: str) -> SheetRefused:
    return SheetRefused(code, zh, en)


CORRUPT = (
    "file.corrupt",
    "文件已损坏或结构异常，请用 Excel 打开后另存为 .xlsx",
    "the file is damaged: open it and save it as .xlsx",
)
BOMB = (
    "file.zip_bomb",
    "文件解压后过大（疑似压缩炸弹），已拒收",
    "the file inflates to too much data (a zip bomb?)",
)


@dataclass
class Package:
    zip: zipfile.ZipFile
    sheet_name: str
    sheet_part: str  # the zip member calamine reads for that sheet
    shared_strings: str | None  # the member calamine reads its shared strings from


def open_package(data: bytes) -> Package:
    """The checked package and its first visible worksheet, or SheetRefused."""
    _sniff(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        _check_members(infos)
        for info in infos:
            _check_stream(data, info)
        by_name = {i.filename.lower(): i.filename for i in infos}
        _check_kind(archive, by_name)
        name, part = _first_visible_sheet(archive, by_name)
    except SheetRefused:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ElementTree.ParseError, zlib.error) as e:
        raise refused(*CORRUPT) from e
    except (ValueError, KeyError, EOFError, OSError, struct.error, NotImplementedError, RuntimeError) as e:
        raise refused(*CORRUPT) from e
    return Package(archive, name, part, by_name.get("xl/sharedstrings.xml"))


def _sniff(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise refused(
            "file.too_large",
            f"文件超过 {MAX_FILE_BYTES // MB} MB，请分成多个文件上传",
            f"the file is over {MAX_FILE_BYTES // MB} MB: split it",
        )
    if data.startswith(_OLE2):
        if _ENCRYPTED in data:
            raise refused(
                "file.encrypted", "文件设有密码，请取消密码后再上传", "the file is password-protected"
            )
        raise refused(
            "file.xls",
            "不支持旧版 .xls 文件，请用 Excel 或 WPS“另存为”Excel 工作簿（.xlsx）",
            "old .xls files are not accepted: save it as an Excel workbook (.xlsx)",
        )
    if not data.startswith(b"PK\x03\x04"):
        raise refused(
            "file.not_spreadsheet",
            "文件不是 Excel 工作簿（.xlsx），请使用下载的模板",
            "the file is not an Excel workbook (.xlsx): use the template",
        )


def _check_members(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_MEMBERS:
        raise refused(*BOMB)
    names = [i.filename.lower() for i in infos]
    if len(set(names)) != len(names):
        raise refused(*CORRUPT)  # two parts of one name: which one a reader takes is up to it
    if any(i.flag_bits & 0x1 for i in infos):
        raise refused("file.encrypted", "文件设有密码，请取消密码后再上传", "the file is password-protected")
    if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in infos):
        raise refused(*CORRUPT)
    if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED:
        raise refused(*BOMB)
    for i in infos:
        if i.file_size >= RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise refused(*BOMB)


def _check_stream(data: bytes, info: zipfile.ZipInfo) -> None:
    """Inflate the member's bytes as the local header places them, counting: more than declared is
    a bomb, less or a wrong CRC is damage. Python's own reader would stop at the declared size
    without saying so; another reader (calamine's) might not stop."""
    at = info.header_offset
    if data[at : at + 4] != b"PK\x03\x04":
        raise refused(*CORRUPT)
    name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
    start = at + 30 + name_len + extra_len
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        raise refused(*CORRUPT)
    if info.compress_type == zipfile.ZIP_STORED:
        size, crc = len(raw), zlib.crc32(raw)
    else:
        size, crc = _inflate_counting(raw, info.file_size)
    if size != info.file_size or crc != info.CRC:
        raise refused(*CORRUPT)


def _inflate_counting(raw: memoryview, declared: int) -> tuple[int, int]:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    size = crc = 0
    for pos in range(0, len(raw), _CHUNK):
        pending = bytes(raw[pos : pos + _CHUNK])
        while pending and not inflater.eof:
            out = inflater.decompress(pending, _CHUNK)
            size += len(out)
            if size > declared:
                raise refused(*BOMB)
            crc = zlib.crc32(out, crc)
            pending = inflater.unconsumed_tail
        if inflater.eof:
            break
    if not inflater.eof:
        raise refused(*CORRUPT)  # truncated deflate stream
    return size, crc


def _check_kind(archive: zipfile.ZipFile, by_name: dict[str, str]) -> None:
    if "mimetype" in by_name and archive.read(by_name["mimetype"]).startswith(b"application/vnd.oasis"):
        raise refused(
            "file.unsupported_format",
            "不支持 .ods 文件，请另存为 Excel 工作簿（.xlsx）",
            ".ods files are not accepted: save it as an Excel workbook (.xlsx)",
        )
    if "xl/workbook.bin" in by_name:
        raise refused(
            "file.unsupported_format",
            "不支持 .xlsb 文件，请另存为 Excel 工作簿（.xlsx）",
            ".xlsb files are not accepted: save it as an Excel workbook (.xlsx)",
        )
    if "xl/workbook.xml" not in by_name or "xl/_rels/workbook.xml.rels" not in by_name:
        raise refused(
            "file.not_spreadsheet",
            "文件不是 Excel 工作簿（.xlsx），请使用下载的模板",
            "the file is not an Excel workbook (.xlsx): use the template",
        )


def _first_visible_sheet(archive: zipfile.ZipFile, by_name: dict[str, str]) -> tuple[str, str]:
    """As calamine reads xl/workbook.xml: a sheet's part is its relationship's target under xl/,
    its kind the folder (worksheets, chartsheets, dialogsheets), its visibility `state`."""
    rels = _xml(archive, by_name.get("xl/_rels/workbook.xml.rels"))
    book = _xml(archive, by_name["xl/workbook.xml"])
    if rels is None or book is None:
        raise refused(*CORRUPT)
    targets = {el.get("Id"): el.get("Target", "") for el in rels.iter() if _local(el.tag) == "Relationship"}
    sheets = [el for el in book.iter() if _local(el.tag) == "sheet"]
    names = [str(el.get("name", "")).lower() for el in sheets]
    if len(set(names)) != len(names):
        raise refused(*CORRUPT)  # a reader asked for a sheet by name could take either
    for el in sheets:
        ids = [v for k, v in el.attrib.items() if k.endswith("}id")]
        if len(ids) != 1:
            raise refused(*CORRUPT)  # calamine takes r:id; with two, we might scan another part
        rid = ids[0]
        target = targets.get(rid, "")
        part = (
            target[1:]
            if target.startswith("/xl/")
            else target
            if target.startswith("xl/")
            else f"xl/{target}"
        )
        kind = part.split("/")[1] if part.count("/") >= 2 else ""
        if el.get("state", "visible") == "visible" and kind == "worksheets":
            if part.lower() not in by_name:
                raise refused(*CORRUPT)
            return str(el.get("name", "")), by_name[part.lower()]
    raise refused("file.no_sheet", "文件中没有可见的工作表", "the workbook has no visible worksheet")


def _xml(archive: zipfile.ZipFile, name: str | None) -> ElementTree.Element | None:
    if name is None:
        return None
    raw = archive.read(name)
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise refused(*CORRUPT)  # Excel never writes one; entity expansion is a bomb of its own
    return ElementTree.fromstring(raw)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
