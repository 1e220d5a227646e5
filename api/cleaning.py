"""Uploaded files made safe to keep and to show: decoded under limits in a throwaway process.

What is kept of a file is what it shows, nothing else:
- a JPEG or PNG is decoded and encoded anew (upright by its EXIF orientation) with no EXIF (GPS,
  camera, time), XMP, ICC profile, comment or text chunk; its size in pixels is read from the
  header first and a picture over the pixel limit is refused before any pixel is decoded;
- a PDF is rebuilt page by page from its pages' content and resources only: no document catalog
  entries (OpenAction, JavaScript, embedded files, forms, outlines, metadata), no annotations,
  no actions, no metadata streams anywhere, and the APP/COM segments (EXIF, XMP, comments) cut
  from every embedded JPEG. A PDF that cannot be rebuilt so (encrypted, JPEG 2000 or filtered
  JPEG images, JPEG images inline in a content stream, or anything the final check of the written
  file still finds) is refused; so is one over the page limit.

Every file is cleaned in a child process of its own (`IsolatedCleaner`), forked from a
forkserver that has Pillow and pypdf loaded: its address space is capped (RLIMIT_AS), it is
killed when it runs past the time limit, and at most `concurrency` run at once. A bomb then
costs one child its memory and the API nothing; the event loop only awaits a pipe. A process
rather than a thread because a thread can be neither killed nor given a memory limit.

This module imports no web framework: it is what the forkserver preloads.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import resource
from dataclasses import dataclass
from io import BytesIO
from multiprocessing.connection import Connection
from typing import Any

from anyio import to_thread
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from domain.attachments import FileKind, sniff

JPEG_QUALITY = 90
# The only entry of Image.info carried into the new file: a PNG's transparent colour is pixels.
KEPT_IMAGE_INFO = ("transparency",)
# EXIF Orientation → the turn that shows the picture upright, as ImageOps.exif_transpose does
# (not used: it writes back the EXIF it reads, and fails on some malformed EXIF).
ORIENTATION_TAG = 0x0112
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}

# What a rebuilt page keeps of its dictionary (/Type and /Parent are the writer's).
PAGE_KEYS = frozenset({"/Type", "/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate",
                       "/Resources", "/Contents", "/UserUnit", "/Group"})
# Entries removed from every dictionary a page reaches: actions and scripts, annotations, metadata
# and application data, and references to other files (OPI, reference XObjects, alternates).
DROPPED_KEYS = frozenset({"/A", "/AA", "/JS", "/JavaScript", "/OpenAction", "/Annots", "/AcroForm", "/URI",
                          "/Launch", "/EmbeddedFiles", "/EF", "/Metadata", "/PieceInfo", "/LastModified",
                          "/OPI", "/Ref", "/Alternates", "/Thumb", "/Names"})
# What the final check refuses to find anywhere in the written file.
FORBIDDEN_KEYS = DROPPED_KEYS | {"/Info", "/Author", "/Creator", "/Producer", "/Outlines", "/StructTreeRoot"}
FORBIDDEN_TYPES = frozenset({"/Annot", "/Filespec", "/EmbeddedFile", "/Action", "/Metadata"})
# JPEG segments kept: APP14 "Adobe" says how to read the colours; every other APPn (EXIF, XMP,
# ICC, JFIF thumbnails, Photoshop IRB…) and COM go.
JPEG_KEPT_APP = {0xEE}


@dataclass(frozen=True)
class CleaningLimits:
    """The ATTACHMENT_* settings of config.py, where their values and meaning are."""

    max_image_pixels: int
    max_pdf_pages: int
    timeout_seconds: float
    memory_bytes: int
    concurrency: int
    # How long an upload may wait for one of the `concurrency` cleaners before a 503.
    queue_timeout_seconds: float


class Unacceptable(Exception):
    """A file refused: the HTTP status and what to tell the sender, in Indonesian and English."""

    def __init__(self, status: int, message_id: str, message_en: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message_en)
        self.status, self.message_id, self.message_en, self.headers = status, message_id, message_en, headers

    def __reduce__(self) -> tuple[Any, ...]:  # sent back from the child through a pipe
        return (Unacceptable, (self.status, self.message_id, self.message_en, self.headers))


@dataclass(frozen=True)
class CleanFile:
    kind: FileKind
    data: bytes


def unreadable(kind: FileKind) -> Unacceptable:
    if kind.is_image:
        return Unacceptable(422, "Gambar rusak atau tidak dapat dibaca.", "The image is damaged or cannot be read.")
    return Unacceptable(422, "PDF rusak atau tidak dapat dibaca.", "The PDF is damaged or cannot be read.")


# --- images ------------------------------------------------------------------------------------


def too_many_pixels(limit: int) -> Unacceptable:
    return Unacceptable(413, f"Gambar terlalu besar: paling banyak {limit // 1_000_000} megapiksel.",
                        f"The image is too large: at most {limit // 1_000_000} megapixels.")


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(ORIENTATION_TAG)
    except Exception:  # noqa: BLE001 - unreadable EXIF: the picture is kept as it is stored
        return None
    return value if isinstance(value, int) else None


def clean_image(data: bytes, kind: FileKind, limits: CleaningLimits) -> bytes:
    """The picture alone, upright, encoded anew; refused from its header when over the pixel limit."""
    pillow_format = PILLOW_FORMATS[kind.content_type]
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels  # Pillow's own guard agrees with ours
    try:
        with Image.open(BytesIO(data), formats=[pillow_format]) as image:  # reads the header only
            width, height = image.size
            if width * height > limits.max_image_pixels:
                raise too_many_pixels(limits.max_image_pixels)
            image.load()
            turn = UPRIGHT.get(_orientation(image))
            upright = image.transpose(turn) if turn is not None else image
            # The pixels only: the image still carries the file's metadata in `info`, which save() reads.
            upright.info = {key: upright.info[key] for key in KEPT_IMAGE_INFO if key in upright.info}
            out = BytesIO()
            if pillow_format == "JPEG":
                if upright.mode not in ("L", "RGB", "CMYK"):
                    upright = upright.convert("RGB")
                upright.save(out, "JPEG", quality=JPEG_QUALITY)
            else:
                try:
                    upright.save(out, "PNG")
                except (OSError, KeyError, ValueError):  # a mode PNG cannot write back as it is
                    out = BytesIO()
                    upright.convert("RGBA").save(out, "PNG")
    except Image.DecompressionBombError as error:
        raise too_many_pixels(limits.max_image_pixels) from error
    except (Unacceptable, MemoryError):
        raise
    except Exception as error:  # noqa: BLE001 - a malformed file makes decoders raise anything
        raise unreadable(kind) from error
    return out.getvalue()


# --- PDFs --------------------------------------------------------------------------------------


def cannot_rebuild(why_id: str, why_en: str) -> Unacceptable:
    return Unacceptable(422, f"PDF ini tidak dapat dibersihkan dengan aman ({why_id}): cetak ulang sebagai PDF "
                        "biasa atau kirim sebagai foto.",
                        f"This PDF cannot be cleaned safely ({why_en}): print it again as a plain PDF or send "
                        "it as a photo.")


def too_many_pages(limit: int) -> Unacceptable:
    return Unacceptable(413, f"PDF terlalu panjang: paling banyak {limit} halaman.",
                        f"The PDF is too long: at most {limit} pages.")


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The JPEG without its APPn (but Adobe's) and COM segments; ValueError when it is not one."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    out, i, n = bytearray(b"\xff\xd8"), 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            raise ValueError("no marker")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            raise ValueError("truncated")
        marker = data[i]
        i += 1
        if marker == 0xD9:  # EOI
            out += b"\xff\xd9"
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            out += bytes((0xFF, marker))
            continue
        if i + 2 > n:
            raise ValueError("truncated")
        length = int.from_bytes(data[i:i + 2], "big")
        segment = data[i - 2:i + length]
        if length < 2 or i + length > n:
            raise ValueError("bad segment length")
        i += length
        if (0xE0 <= marker <= 0xEF and marker not in JPEG_KEPT_APP) or marker == 0xFE:
            continue
        out += segment
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            start = i
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    raise ValueError("scan not ended")
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    i = j + 1 if following == 0xFF else j + 2
                    continue
                i = j
                break
            out += data[start:i]
    raise ValueError("no end of image")


def _filters(stream: DictionaryObject) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    value = value.get_object()
    return [str(f.get_object()) for f in value] if isinstance(value, ArrayObject) else [str(value)]


def _clean_stream_data(stream: StreamObject) -> None:
    filters = _filters(stream)
    if "/JPXDecode" in filters:
        raise cannot_rebuild("gambar JPEG 2000", "JPEG 2000 images")
    if "/DCTDecode" in filters or "/DCT" in filters:
        if len(filters) != 1:
            raise cannot_rebuild("gambar JPEG bertumpuk filter", "JPEG images under another filter")
        try:
            StreamObject.set_data(stream, strip_jpeg_metadata(stream._data))
        except ValueError as error:
            raise cannot_rebuild("gambar JPEG rusak", "a damaged JPEG image") from error


# An inline image (BI … ID … EI in a content stream) whose filter is JPEG or JPEG 2000: its bytes
# may carry EXIF or XMP and sit inside the page's drawing operators, where they are not rewritten.
INLINE_JPEG = re.compile(rb"\bBI\b(?:(?!\bID\b)[\s\S]){0,4000}?/(?:DCT|DCTDecode|JPX|JPXDecode)\b")


def _refuse_inline_jpeg(content: StreamObject) -> None:
    if INLINE_JPEG.search(content.get_data()):
        raise cannot_rebuild("gambar JPEG di dalam isi halaman", "JPEG images inline in a page's content")


def _is_content(stream: StreamObject) -> bool:
    """A stream of drawing operators other than a page's own: a form XObject or a tiling pattern."""
    return stream.get("/Subtype") == "/Form" or stream.get("/PatternType") == 1


def _scrub(root: Any) -> None:
    """Remove DROPPED_KEYS from every dictionary reachable from `root` (never climbing to /Parent)
    and cut the metadata of every JPEG stream on the way."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, IndirectObject):
            item = item.get_object()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, DictionaryObject):
            for key in [k for k in item if k in DROPPED_KEYS]:
                del item[key]
            if isinstance(item, StreamObject):
                _clean_stream_data(item)
                if _is_content(item):
                    _refuse_inline_jpeg(item)
            pending.extend(value for key, value in item.items() if key != "/Parent")
        elif isinstance(item, ArrayObject):
            pending.extend(item)


def _check_rebuilt(data: bytes) -> None:
    """Read the written file back and refuse it if anything active or identifying is left."""
    reader = PdfReader(BytesIO(data))
    trailer = reader.trailer
    if "/Info" in trailer or "/Encrypt" in trailer:
        raise cannot_rebuild("metadata tersisa", "metadata left")
    numbers = {(n, g) for g, table in reader.xref.items() for n in table} | {(n, 0) for n in reader.xref_objStm}
    for number, generation in sorted(numbers):
        pending = [reader.get_object(IndirectObject(number, generation, reader))]
        while pending:  # the object and the dictionaries and arrays written inside it
            item = pending.pop()
            if isinstance(item, ArrayObject):
                pending.extend(value for value in item if not isinstance(value, IndirectObject))
            if not isinstance(item, DictionaryObject):
                continue
            left = (set(item) & FORBIDDEN_KEYS) | ({str(item.get("/Type")), str(item.get("/Subtype"))} & FORBIDDEN_TYPES)
            if left:
                raise cannot_rebuild(f"tersisa {', '.join(sorted(left))}", f"{', '.join(sorted(left))} left")
            if isinstance(item, StreamObject) and {"/DCTDecode", "/DCT"} & set(_filters(item)):
                if strip_jpeg_metadata(item._data) != item._data:
                    raise cannot_rebuild("metadata gambar tersisa", "image metadata left")
            pending.extend(value for value in item.values() if not isinstance(value, IndirectObject))

def clean_pdf(data: bytes, kind: FileKind, limits: CleaningLimits) -> bytes:
    """The PDF rebuilt from its pages' content and resources alone (module docstring)."""
    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted:
            raise Unacceptable(422, "PDF yang dikunci (terenkripsi) tidak dapat diterima: kirim tanpa kata sandi.",
                               "An encrypted PDF cannot be accepted: send it without a password.")
        declared = reader.trailer["/Root"]["/Pages"].get("/Count", 0)  # cheap: before walking the tree
        if int(declared) > limits.max_pdf_pages:
            raise too_many_pages(limits.max_pdf_pages)
        pages = reader.pages
        if len(pages) > limits.max_pdf_pages:
            raise too_many_pages(limits.max_pdf_pages)
        if len(pages) == 0:
            raise unreadable(kind)
        writer = PdfWriter()
        for page in pages:
            for key in [k for k in page if k not in PAGE_KEYS]:
                del page[key]
            _scrub(page)
            contents = page.get_contents()
            if contents is not None:
                _refuse_inline_jpeg(contents)
            writer.add_page(page)
        writer.metadata = None
        out = BytesIO()
        writer.write(out)
        rebuilt = out.getvalue()
        _check_rebuilt(rebuilt)
    except (Unacceptable, MemoryError):
        raise
    except Exception as error:  # noqa: BLE001 - a malformed PDF fails in many ways inside pypdf
        raise unreadable(kind) from error
    return rebuilt


# --- any file ----------------------------------------------------------------------------------


def unsupported() -> Unacceptable:
    return Unacceptable(415, "Jenis berkas tidak didukung: lampirkan foto JPEG atau PNG, atau dokumen PDF "
                        "(jenis berkas dikenali dari isinya, bukan dari namanya).",
                        "Unsupported file type: attach a JPEG or PNG photo or a PDF document (the type is "
                        "read from the content, not the name).")


def clean(data: bytes, limits: CleaningLimits) -> CleanFile:
    """The file as it will be kept; in-process (IsolatedCleaner runs it in a child)."""
    kind = sniff(data)
    if kind is None:
        raise unsupported()
    cleaned = clean_image(data, kind, limits) if kind.is_image else clean_pdf(data, kind, limits)
    return CleanFile(kind, cleaned)


def too_heavy() -> Unacceptable:
    return Unacceptable(422, "Berkas terlalu berat untuk diproses (waktu atau memori habis): kirim berkas yang "
                        "lebih kecil.",
                        "The file is too heavy to process (out of time or memory): send a smaller file.")


def _child(connection: Connection, data: bytes, limits: CleaningLimits) -> None:
    """In the child: cap the address space and the CPU time, clean, send the outcome back."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = int(limits.timeout_seconds) + 2  # a backstop: the parent kills it at the time limit
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        outcome: Any = clean(data, limits)
    except Unacceptable as refused:
        outcome = refused
    except MemoryError:
        outcome = too_heavy()
    except Exception:  # noqa: BLE001 - whatever else: refused, never a crash of the API
        outcome = too_heavy()
    connection.send(outcome)
    connection.close()


_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])


class IsolatedCleaner:
    """Cleans each file in a child process with capped memory and time, `concurrency` at once."""

    def __init__(self, limits: CleaningLimits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.concurrency)

    async def clean(self, data: bytes) -> CleanFile:
        """The cleaned file, or Unacceptable: 413/415/422 for the file, 503 when all cleaners stay busy."""
        if sniff(data) is None:  # nothing to start a process for
            raise unsupported()
        try:
            await asyncio.wait_for(self._slots.acquire(), self.limits.queue_timeout_seconds)
        except TimeoutError as error:
            raise Unacceptable(503, "Terlalu banyak berkas sedang diproses; coba lagi sebentar lagi.",
                               "Too many files are being processed; try again shortly.",
                               headers={"Retry-After": "10"}) from error
        try:
            return await to_thread.run_sync(self._clean_in_child, data)
        finally:
            self._slots.release()

    def _clean_in_child(self, data: bytes) -> CleanFile:
        receiving, sending = _CONTEXT.Pipe(duplex=False)
        child = _CONTEXT.Process(target=_child, args=(sending, data, self.limits), daemon=True)
        child.start()
        sending.close()  # the child's end: EOF here when the child dies
        try:
            if not receiving.poll(self.limits.timeout_seconds):
                raise too_heavy()
            try:
                outcome = receiving.recv()
            except EOFError as error:  # killed (CPU limit) or died without a word (memory)
                raise too_heavy() from error
        finally:
            if child.is_alive():
                child.kill()
            child.join()
            child.close()
            receiving.close()
        if isinstance(outcome, Unacceptable):
            raise outcome
        return outcome

