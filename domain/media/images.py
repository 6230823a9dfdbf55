"""Images: check what the bytes are, then make web variants (Pillow).

Orientation is applied, EXIF and GPS are dropped (nothing of the original's metadata is copied),
colours are converted to sRGB, and each variant is written as JPEG and WebP. JPEGs are decoded
with `draft()`, which lets libjpeg scale down while decoding: a 12 MP photo is decoded at the
smallest power-of-two scale that still covers the largest variant.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image, ImageCms, ImageOps

from domain.media import blurhash
from domain.media.errors import MediaRejected
from domain.media.sniff import IMAGE_TYPES, sniff

MAX_BYTES = 16 * 1024 * 1024
MAX_PIXELS = 33_000_000  # Mastodon's limit; checked from the header, before decoding
VARIANT_WIDTHS = (1080, 640, 320, 150)
JPEG_QUALITY = 82
WEBP_QUALITY = 80
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
_SRGB = ImageCms.createProfile("sRGB")


@dataclass
class Variant:
    width: int
    height: int
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class ProcessedImage:
    content_type: str
    width: int
    height: int
    blurhash: str
    variants: list[Variant]


def _open_checked(data: bytes) -> tuple[Image.Image, str]:
    if len(data) > MAX_BYTES:
        raise MediaRejected(f"The image is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    content_type = sniff(data[:16])
    if content_type not in IMAGE_TYPES:
        raise MediaRejected("The file is not a JPEG, PNG, WebP or GIF image.")
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError:
        raise MediaRejected(f"The image has more than {MAX_PIXELS:,} pixels.") from None
    except (OSError, SyntaxError, ValueError):
        raise MediaRejected("The image is damaged and cannot be read.") from None
    if _FORMATS.get(image.format or "") != content_type:
        raise MediaRejected("The image is damaged and cannot be read.")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise MediaRejected(f"The image has more than {MAX_PIXELS:,} pixels.")
    if width < 1 or height < 1:
        raise MediaRejected("The image is empty.")
    return image, content_type


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    orientation = image.getexif().get(0x0112, 1)
    w, h = image.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _to_srgb_rgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB") or image
        except (ImageCms.PyCMSError, OSError):
            pass  # an unreadable profile: keep the pixels as they are
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _encode(image: Image.Image, content_type: str) -> bytes:
    out = io.BytesIO()
    if content_type == "image/jpeg":
        image.save(out, "JPEG", quality=JPEG_QUALITY, progressive=True)
    else:
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=3)
    return out.getvalue()


def check_image(data: bytes) -> str:
    """The sniffed content type, or MediaRejected; reads only the header."""
    return _open_checked(data)[1]


def process_image(data: bytes) -> ProcessedImage:
    image, content_type = _open_checked(data)
    width, height = _oriented_size(image)
    # The largest as wide as the source, up to the largest width; then the smaller widths.
    largest = min(width, VARIANT_WIDTHS[0])
    widths = [largest, *(w for w in VARIANT_WIDTHS[1:] if w < largest)]
    if image.format == "JPEG":
        # draft() takes the size wanted in the stored (unrotated) orientation.
        stored_w, stored_h = image.size
        scale = largest / width
        image.draft("RGB", (max(1, int(stored_w * scale)), max(1, int(stored_h * scale))))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):
        raise MediaRejected("The image is damaged or truncated.") from None
    image = ImageOps.exif_transpose(image) or image
    image = _to_srgb_rgb(image)

    variants: list[Variant] = []
    current = image
    for w in widths:
        h = max(1, round(height * w / width))
        if current.size != (w, h):
            current = current.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=2.0)
        for variant_type in ("image/jpeg", "image/webp"):
            variants.append(Variant(w, h, variant_type, _encode(current, variant_type)))
    return ProcessedImage(
        content_type=content_type,
        width=width,
        height=height,
        blurhash=blurhash.encode(current),
        variants=variants,
    )
