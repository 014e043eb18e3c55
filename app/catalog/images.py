"""Uploaded images: checked by content, sized up by their header before any pixel is decoded,
decoded a few at a time per node, re-encoded without metadata, keyed afresh."""

from __future__ import annotations

import asyncio
import io
import uuid
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import TooLarge, Unavailable, UnsupportedMediaType

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Decoding cost grows with pixels, not bytes: a 130 KB PNG can claim 6300×6300 (119 MB as RGB).
# At most this many are decoded (64 MiB at 4 bytes a pixel); a JPEG is decoded at a reduced
# scale first, so a 48-megapixel photo fits.
MAX_PIXELS = 4096 * 4096
MAX_SIDE = 1600
RETRY_AFTER_SECONDS = 2
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
NOT_AN_IMAGE = "Upload a JPEG, PNG or WebP image."


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    extension: str
    content_type: str


def _too_many_pixels(width: int, height: int) -> TooLarge:
    return TooLarge(
        f"The image is {width}×{height} pixels; at most {MAX_PIXELS:,} pixels "
        f"(e.g. 4096×4096) are accepted. Scale it down and upload it again."
    )


def _open(raw: bytes) -> Image.Image:
    """The image with only its header read, made ready to decode at most MAX_PIXELS."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(raw), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge("The image has far too many pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnsupportedMediaType(NOT_AN_IMAGE) from None
    if probe.format not in FORMATS:
        raise UnsupportedMediaType(NOT_AN_IMAGE)
    width, height = probe.size
    if probe.format == "JPEG":
        # The JPEG decoder scales by 1/2, 1/4 or 1/8 while decoding: ask for the smallest
        # scale that still covers the thumbnail.
        probe.draft(None, (MAX_SIDE, MAX_SIDE))
    if probe.width * probe.height > MAX_PIXELS:
        raise _too_many_pixels(width, height)
    return probe


def _reencode(raw: bytes) -> CleanImage:
    probe = _open(raw)
    fmt = probe.format or ""
    extension, content_type = FORMATS[fmt]
    try:
        # Shrink first, so that the copies below are of the small image.
        probe.thumbnail((MAX_SIDE, MAX_SIDE))
        # Apply the camera's rotation before dropping EXIF, then copy the pixels onto a fresh
        # canvas so that no metadata (EXIF, GPS, ICC profile, text chunks) can survive.
        image = ImageOps.exif_transpose(probe)
        mode = "RGB" if fmt == "JPEG" or image.mode not in ("RGBA", "LA", "P", "PA") else "RGBA"
        pixels = image.convert(mode)
        clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
        out = io.BytesIO()
        if fmt == "JPEG":
            clean.save(out, "JPEG", quality=85, optimize=True)
        elif fmt == "PNG":
            clean.save(out, "PNG", optimize=True)
        else:
            clean.save(out, "WEBP", quality=85)
    except (OSError, SyntaxError, ValueError):
        raise UnsupportedMediaType("This image cannot be processed.") from None
    return CleanImage(out.getvalue(), extension, content_type)


class ImageDecoder:
    """Cleans uploads, at most `slots` at once on this node: each decode may hold tens of MB,
    so a burst waits up to `wait` seconds for a slot and then gets 503 with Retry-After."""

    def __init__(self, *, slots: int, wait: float) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._wait = wait

    def _release(self, done: asyncio.Future[CleanImage]) -> None:
        self._slots.release()
        if not done.cancelled():
            done.exception()  # retrieved: a caller that went away must not leave it unseen

    async def clean(self, raw: bytes) -> CleanImage:
        """413 over 5 MiB or MAX_PIXELS, 415 unless JPEG/PNG/WebP, 503 when busy; else the
        re-encoded image."""
        if len(raw) > MAX_UPLOAD_BYTES:
            raise TooLarge("Images may be at most 5 MiB.")
        if not raw:
            raise UnsupportedMediaType("The file is empty.")
        try:
            async with asyncio.timeout(self._wait):
                await self._slots.acquire()
        except TimeoutError:
            raise Unavailable(
                "Too many images are being processed on this server; retry shortly.",
                retry_after=RETRY_AFTER_SECONDS,
            ) from None
        # Decoding is CPU work, off the event loop. The slot is freed when the decode ends,
        # not when the request does: a client that hangs up does not stop the thread.
        decode = asyncio.ensure_future(asyncio.to_thread(_reencode, raw))
        decode.add_done_callback(self._release)
        return await asyncio.shield(decode)


def new_key(kind: str, owner_id: int, extension: str) -> str:
    """A fresh, unguessable key such as `stores/7/<hex>.jpg` (replacing never reuses one)."""
    return f"{kind}/{owner_id}/{uuid.uuid4().hex}.{extension}"
