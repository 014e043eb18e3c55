"""Uploaded images: checked by content, decoded, re-encoded without metadata, keyed afresh."""

from __future__ import annotations

import asyncio
import io
import uuid
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import TooLarge, UnsupportedMediaType

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Decoding cost grows with pixels, not bytes: a tiny file can claim a huge canvas.
MAX_PIXELS = 40_000_000
MAX_SIDE = 1600
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    extension: str
    content_type: str


def _reencode(raw: bytes) -> CleanImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(raw), formats=list(FORMATS))
            if probe.width * probe.height > MAX_PIXELS:
                raise UnsupportedMediaType("The image has too many pixels.")
            fmt = probe.format or ""
            probe.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise UnsupportedMediaType("Upload a JPEG, PNG or WebP image.") from None
    if fmt not in FORMATS:
        raise UnsupportedMediaType("Upload a JPEG, PNG or WebP image.")
    extension, content_type = FORMATS[fmt]
    # Apply the camera's rotation before dropping EXIF, then copy the pixels onto a fresh
    # canvas so that no metadata (EXIF, GPS, ICC profile, text chunks) can survive.
    try:
        image = ImageOps.exif_transpose(probe)
        image.thumbnail((MAX_SIDE, MAX_SIDE))
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
    except (OSError, ValueError):
        raise UnsupportedMediaType("This image cannot be processed.") from None
    return CleanImage(out.getvalue(), extension, content_type)


async def clean_image(raw: bytes) -> CleanImage:
    """413 over 5 MiB, 415 unless it decodes as JPEG/PNG/WebP; else the re-encoded image."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise TooLarge("Images may be at most 5 MiB.")
    if not raw:
        raise UnsupportedMediaType("The file is empty.")
    # Decoding is CPU work; keep it off the event loop.
    return await asyncio.to_thread(_reencode, raw)


def new_key(kind: str, owner_id: int, extension: str) -> str:
    """A fresh, unguessable key such as `stores/7/<hex>.jpg` (replacing never reuses one)."""
    return f"{kind}/{owner_id}/{uuid.uuid4().hex}.{extension}"
