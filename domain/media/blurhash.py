"""BlurHash encoding (https://blurha.sh): a ~28-character placeholder a client paints before the
image arrives. Written from the published algorithm."""

from __future__ import annotations

import math

from PIL import Image

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_SRGB_TO_LINEAR = [
    (v / 255) / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4
    for v in range(256)
]


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - i - 1)) % 83] for i in range(length))


def _linear_to_srgb(value: float) -> int:
    v = min(max(value, 0.0), 1.0)
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _sign_pow(value: float, exponent: float) -> float:
    return math.copysign(abs(value) ** exponent, value)


def encode(image: Image.Image, *, x_components: int = 4, y_components: int = 3) -> str:
    small = image.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)
    width, height = small.size
    raw = small.tobytes()
    pixels = [
        (_SRGB_TO_LINEAR[raw[i]], _SRGB_TO_LINEAR[raw[i + 1]], _SRGB_TO_LINEAR[raw[i + 2]])
        for i in range(0, len(raw), 3)
    ]
    factors: list[tuple[float, float, float]] = []
    for j in range(y_components):
        cos_y = [math.cos(math.pi * j * y / height) for y in range(height)]
        for i in range(x_components):
            cos_x = [math.cos(math.pi * i * x / width) for x in range(width)]
            r = g = b = 0.0
            for y in range(height):
                row = y * width
                for x in range(width):
                    basis = cos_x[x] * cos_y[y]
                    pr, pg, pb = pixels[row + x]
                    r += basis * pr
                    g += basis * pg
                    b += basis * pb
            scale = (1 if i == 0 and j == 0 else 2) / (width * height)
            factors.append((r * scale, g * scale, b * scale))

    dc, ac = factors[0], factors[1:]
    result = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        actual_max = max(abs(c) for factor in ac for c in factor)
        quantised_max = max(0, min(82, int(actual_max * 166 - 0.5)))
        max_value = (quantised_max + 1) / 166
        result += _base83(quantised_max, 1)
    else:
        max_value = 1.0
        result += _base83(0, 1)
    result += _base83(
        (_linear_to_srgb(dc[0]) << 16) + (_linear_to_srgb(dc[1]) << 8) + _linear_to_srgb(dc[2]), 4
    )
    for factor in ac:
        r, g, b = (max(0, min(18, int(_sign_pow(c / max_value, 0.5) * 9 + 9.5))) for c in factor)
        result += _base83(r * 19 * 19 + g * 19 + b, 2)
    return result
