"""How an image upload reaches its decode: the owner's upload rate, then whether the caller
may change the target, and only then the body, parsed and cleaned (app/catalog/images.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from quart import request
from werkzeug.exceptions import HTTPException

from app.auth.login import Principal
from app.catalog.images import MAX_UPLOAD_BYTES, CleanImage, ImageDecoder
from app.container import container
from app.errors import DomainError, TooLarge, ValidationFailed
from app.ratelimit import RateLimiter

# The multipart envelope around a file of MAX_UPLOAD_BYTES.
UPLOAD_BODY_LIMIT = MAX_UPLOAD_BYTES + 64 * 1024
# How long a refused upload may take to finish arriving before the answer goes anyway.
REFUSED_BODY_WAIT_SECONDS = 10


async def _count_upload(principal: Principal) -> None:
    services = container()
    limits = services.settings
    await services.get(RateLimiter).hit(
        f"image-upload:{principal.user_id}",
        limit=limits.image_uploads_per_owner,
        window=limits.image_upload_window_seconds,
    )


async def _let_body_arrive() -> None:
    # Answering while the client still sends makes the server close the connection with
    # bytes unread, and the client may see a reset instead of the answer. The bytes are
    # taken and dropped as they come, never parsed.
    if request.content_length is not None and request.content_length > UPLOAD_BODY_LIMIT:
        return
    with contextlib.suppress(HTTPException, TimeoutError):  # over the limit, or too slow
        async with asyncio.timeout(REFUSED_BODY_WAIT_SECONDS):
            async for _chunk in request.body:
                pass


async def admit_upload(principal: Principal, may_change: Callable[[], Awaitable[None]]) -> None:
    """429 over the owner's upload rate, 403/404 unless the caller may change the target:
    decided before the upload is parsed or decoded."""
    try:
        await _count_upload(principal)
        await may_change()
    except DomainError:
        await _let_body_arrive()
        raise


async def uploaded_image() -> CleanImage:
    """The upload, read and cleaned: called only once the caller may change the target, so
    that nobody else's request makes this node parse or decode anything."""
    # Refuse by the declared length before reading anything; a lying client is caught below.
    if request.content_length is not None and request.content_length > UPLOAD_BODY_LIMIT:
        raise TooLarge("Images may be at most 5 MiB.")
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise ValidationFailed(
            "Send the image as multipart/form-data field `file`.",
            errors=[{"field": "file", "message": "Choose an image file.", "type": "missing"}],
        )
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    upload.close()
    return await container().get(ImageDecoder).clean(bytes(data))
