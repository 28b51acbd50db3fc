"""Reading an uploaded QTI package safely: a zip and its XML are hostile input.

Refused: more than :data:`MAX_ENTRIES` files, a file larger than :data:`MAX_FILE` or all files together larger
than :data:`MAX_TOTAL` once unpacked (sizes are counted while unpacking, not taken from the zip's own claims, so
a zip bomb stops at the limit), names that are absolute or climb out with ``..``, and XML that declares a
document type (entities: "billion laughs", external entities that read local files or the network).
"""

from __future__ import annotations

import io
import posixpath
import zipfile

from lxml import etree

__all__ = ["MAX_ENTRIES", "MAX_FILE", "MAX_TOTAL", "Package", "PackageError", "open_package", "parse_xml"]

MAX_ENTRIES = 2000
MAX_FILE = 20 * 1024 * 1024
MAX_TOTAL = 100 * 1024 * 1024
MAX_XML = 5 * 1024 * 1024


class PackageError(Exception):
    """The package as a whole cannot be read (not an item's problem)."""


class Package:
    """The files of an unpacked package by their normalised path (``folder/file.xml``)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def read(self, path: str) -> bytes | None:
        """The bytes of a file, or None when the package has none by this path."""
        return self.files.get(path)


def _clean_name(name: str) -> str:
    normalised = posixpath.normpath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or normalised.startswith("..") or ":" in normalised.split("/")[0]:
        raise PackageError(f"the package holds a file outside its folder: {name[:200]!r}")
    return normalised


def open_package(data: bytes) -> Package:
    """Unpack a zip within the limits of this module; raises PackageError on anything else."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise PackageError(f"not a zip file ({err})") from None
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        if len(entries) > MAX_ENTRIES:
            raise PackageError(f"the package holds more than {MAX_ENTRIES} files")
        files: dict[str, bytes] = {}
        total = 0
        for info in entries:
            name = _clean_name(info.filename)
            if info.file_size > MAX_FILE:
                raise PackageError(f"{name}: larger than {MAX_FILE // 2**20} MB")
            try:
                with archive.open(info) as handle:
                    content = handle.read(MAX_FILE + 1)
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, ValueError) as err:
                raise PackageError(f"{name}: cannot be unpacked ({err})") from None
            if len(content) > MAX_FILE:  # the header lied about the size
                raise PackageError(f"{name}: larger than {MAX_FILE // 2**20} MB")
            total += len(content)
            if total > MAX_TOTAL:
                raise PackageError(f"the package is larger than {MAX_TOTAL // 2**20} MB unpacked")
            files[name] = content
    return Package(files)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)


def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse XML without a document type declaration; raises PackageError naming the file."""
    if len(data) > MAX_XML:
        raise PackageError(f"{name}: XML larger than {MAX_XML // 2**20} MB")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise PackageError(f"{name}: XML with a document type declaration (entities) is refused")
    try:
        root = etree.fromstring(data, _PARSER)  # no DTD (checked above), no entities, no network
    except etree.XMLSyntaxError as err:
        raise PackageError(f"{name}: not well-formed XML ({err})") from None
    if root.getroottree().docinfo.internalDTD is not None:  # UTF-16 text hides it from the byte check
        raise PackageError(f"{name}: XML with a document type declaration is refused")
    return root
