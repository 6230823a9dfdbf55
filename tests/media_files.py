"""Real media files made in the tests: Pillow images and short clips encoded with PyAV."""

from __future__ import annotations

import io
import math
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def jpeg(
    width: int = 1600,
    height: int = 1200,
    *,
    orientation: int | None = None,
    gps: bool = False,
    quality: int = 90,
) -> bytes:
    image = Image.effect_mandelbrot((width, height), (-2, -1.5, 1, 1.5), 60).convert("RGB")
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def png(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 120, 200, 128)).save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG that claims 900 megapixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 16, 9)  # a few rows are enough to lie
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def clip(
    path: Path,
    *,
    width: int = 640,
    height: int = 360,
    seconds: float = 2.0,
    fps: int = 30,
    codec: str = "libx264",
    audio: bool = True,
) -> Path:
    """A real clip: moving gradient pictures and a sine tone."""
    with av.open(str(path), "w") as container:
        video: av.VideoStream = container.add_stream(codec, rate=fps)  # type: ignore[assignment]
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            video.codec_context.options = {"preset": "ultrafast"}
        sound: av.AudioStream | None = container.add_stream("aac", rate=48_000) if audio else None
        if sound is not None:
            sound.codec_context.layout = "stereo"
        frames = int(seconds * fps)
        ys, xs = np.mgrid[0:height, 0:width]
        for i in range(frames):
            rgb = np.stack(
                [(xs + i * 4) % 256, (ys + i * 2) % 256, np.full_like(xs, (i * 8) % 256)], axis=-1
            ).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            samples = 1024
            for n in range(int(seconds * 48_000 / samples)):
                t = (np.arange(samples) + n * samples) / 48_000
                tone = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(
                    np.stack([tone, tone]), format="fltp", layout="stereo"
                )
                chunk.sample_rate = 48_000
                chunk.pts = n * samples
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return path
