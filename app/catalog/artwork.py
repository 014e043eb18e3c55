"""Demo pictures drawn with Pillow: the project's own art, nothing downloaded."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFont

from app.catalog.images import CleanImage

PALETTES = {
    "korean": ((196, 60, 45), (250, 226, 200)),
    "chicken": ((226, 140, 35), (255, 240, 205)),
    "pizza": ((180, 40, 40), (250, 235, 190)),
    "burger": ((120, 70, 35), (245, 220, 170)),
    "chinese": ((170, 25, 30), (250, 210, 120)),
    "japanese": ((35, 55, 95), (240, 235, 225)),
    "asian": ((40, 120, 80), (235, 245, 210)),
    "snack": ((230, 90, 110), (255, 230, 235)),
    "cafe": ((95, 65, 45), (235, 220, 200)),
    "dessert": ((200, 110, 170), (255, 235, 245)),
}


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _jpeg(image: Image.Image) -> CleanImage:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82, optimize=True)
    return CleanImage(out.getvalue(), "jpg", "image/jpeg")


def _centered(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int],
    y: int,
    text: str,
    size: int,
    fill: tuple[int, int, int],
) -> None:
    font = _font(size)
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    draw.text(((box[0] - (right - left)) // 2, y), text, font=font, fill=fill)


def store_banner(name: str, category: str, seed: int) -> CleanImage:
    """A 640×360 banner: the category's colours, a pattern, the store's name."""
    dark, light = PALETTES.get(category, ((60, 60, 60), (230, 230, 230)))
    rng = random.Random(seed)
    image = Image.new("RGB", (640, 360), light)
    draw = ImageDraw.Draw(image)
    for _ in range(28):
        x, y, r = rng.randint(0, 640), rng.randint(0, 360), rng.randint(12, 60)
        tint = tuple(min(255, c + rng.randint(-25, 25)) for c in light)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tint)
    draw.rectangle((0, 250, 640, 360), fill=dark)
    _centered(draw, (640, 360), 272, name, 40, (255, 255, 255))
    _centered(draw, (640, 360), 40, category.upper(), 28, dark)
    return _jpeg(image)


def dish_picture(name: str, category: str, seed: int) -> CleanImage:
    """A 400×300 dish: a plate seen from above with the dish's colours and its name."""
    dark, light = PALETTES.get(category, ((60, 60, 60), (230, 230, 230)))
    rng = random.Random(seed)
    image = Image.new("RGB", (400, 300), dark)
    draw = ImageDraw.Draw(image)
    draw.ellipse((90, 20, 310, 240), fill=(250, 250, 250), outline=(210, 210, 210), width=6)
    food = (rng.randint(150, 240), rng.randint(70, 180), rng.randint(30, 120))
    draw.ellipse((130, 60, 270, 200), fill=food)
    for _ in range(14):
        x, y = rng.randint(145, 255), rng.randint(75, 185)
        bit = (rng.randint(40, 255), rng.randint(100, 220), rng.randint(20, 120))
        draw.ellipse((x - 7, y - 7, x + 7, y + 7), fill=bit)
    _centered(draw, (400, 300), 255, name, 24, light)
    return _jpeg(image)
