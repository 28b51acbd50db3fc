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

from flask_babel import gettext as _
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
        raise PackageError(_("the package holds a file outside its folder: %(file)s", file=repr(name[:200])))
    return normalised


def open_package(data: bytes) -> Package:
    """Unpack a zip within the limits of this module; raises PackageError on anything else."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise PackageError(_("not a zip file (%(error)s)", error=err)) from None
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        if len(entries) > MAX_ENTRIES:
            raise PackageError(_("the package holds more than %(n)d files", n=MAX_ENTRIES))
        files: dict[str, bytes] = {}
        total = 0
        for info in entries:
            name = _clean_name(info.filename)
            if info.file_size > MAX_FILE:
                raise PackageError(_("%(file)s: larger than %(n)d MB", file=name, n=MAX_FILE // 2**20))
            try:
                with archive.open(info) as handle:
                    content = handle.read(MAX_FILE + 1)
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, ValueError) as err:
                raise PackageError(_("%(file)s: cannot be unpacked (%(error)s)", file=name, error=err)) from None
            if len(content) > MAX_FILE:  # the header lied about the size
                raise PackageError(_("%(file)s: larger than %(n)d MB", file=name, n=MAX_FILE // 2**20))
            total += len(content)
            if total > MAX_TOTAL:
                raise PackageError(_("the package is larger than %(n)d MB unpacked", n=MAX_TOTAL // 2**20))
            files[name] = content
    return Package(files)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)


def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse XML without a document type declaration; raises PackageError naming the file."""
    if len(data) > MAX_XML:
        raise PackageError(_("%(file)s: XML larger than %(n)d MB", file=name, n=MAX_XML // 2**20))
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise PackageError(_("%(file)s: XML with a document type declaration (entities) is refused", file=name))
    try:
        root = etree.fromstring(data, _PARSER)  # no DTD (checked above), no entities, no network
    except etree.XMLSyntaxError as err:
        raise PackageError(_("%(file)s: not well-formed XML (%(error)s)", file=name, error=err)) from None
    if root.getroottree().docinfo.internalDTD is not None:  # UTF-16 text hides it from the byte check
        raise PackageError(_("%(file)s: XML with a document type declaration (entities) is refused", file=name))
    return root
