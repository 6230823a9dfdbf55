"""Media pipeline benchmark, on one core: images per second and video encode speed.

    python bench/media.py           # 12 MP JPEG x 10, a 10 s 1080p clip
    python bench/media.py --quick   # 12 MP JPEG x 3, the same clip (within two minutes)

Each figure is printed next to a floor measured in the same run on the same core:
- image: Pillow decoding the whole 12 MP JPEG (no variants, no draft) - what a naive
  pipeline pays before it has done anything;
- video: FFmpeg only decoding the 10 s 1080p clip - the least any transcode can cost.
The last three lines are for tools: `image_12mp_all_variants_s`,
`video_10s_1080p_to_720p_ratio` (encode seconds / clip seconds; the target is < 0.7) and
`video_10s_1080p_everything_ratio` (the MP4, HLS 360/540/720 and the poster; target <= 1.2).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.media.images import process_image
from domain.media.video import transcode


def pin_to_one_core() -> int:
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def photo_12mp() -> bytes:
    """A 4000x3000 JPEG with a photo's entropy: gradients, shapes and sensor-like noise."""
    rng = np.random.default_rng(12)
    ys, xs = np.mgrid[0:3000, 0:4000].astype(np.float32)
    base = np.stack([xs / 4000 * 200, ys / 3000 * 180, (xs + ys) / 7000 * 160], axis=-1)
    base += 40 * np.sin(xs[..., None] / 90.0) * np.cos(ys[..., None] / 70.0)
    base += rng.normal(0, 12, base.shape)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def clip_1080p(path: Path, seconds: int = 10, fps: int = 30) -> Path:
    """A 10 s 1080p H.264 clip at a phone's bitrate (12 Mb/s): a detailed scene panning, with
    a little sensor noise on every frame."""
    rng = np.random.default_rng(3)
    height, width = 1080, 1920
    ys, xs = np.mgrid[0 : height + 120, 0 : width + 240].astype(np.float32)
    scene = np.stack(
        [
            128 + 90 * np.sin(xs / 37.0) * np.cos(ys / 53.0),
            128 + 80 * np.sin((xs + ys) / 61.0),
            128 + 70 * np.cos(xs / 23.0 - ys / 41.0),
        ],
        axis=-1,
    )
    scene = np.clip(scene, 0, 255).astype(np.uint8)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = 12_000_000
        video.codec_context.options = {"preset": "veryfast"}
        for i in range(seconds * fps):
            dy, dx = (i * 2) % 120, (i * 4) % 240
            picture = scene[dy : dy + height, dx : dx + width].astype(np.int16)
            picture += rng.integers(-4, 5, picture.shape, dtype=np.int16)
            frame = av.VideoFrame.from_ndarray(
                np.clip(picture, 0, 255).astype(np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
    return path


def decode_only(path: Path) -> float:
    started = time.perf_counter()
    with av.open(str(path)) as container:
        for _ in container.decode(video=0):
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    core = pin_to_one_core()
    rounds = 3 if args.quick else 10
    print(f"pinned to core {core}; {'quick' if args.quick else 'full'} run")

    data = photo_12mp()
    print(f"\n12 MP JPEG: {len(data) / 1e6:.1f} MB")
    process_image(data)  # warm-up: imports, ICC tables
    floor = []
    for _ in range(rounds):
        started = time.perf_counter()
        Image.open(io.BytesIO(data)).load()
        floor.append(time.perf_counter() - started)
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = process_image(data)
        runs.append(time.perf_counter() - started)
    image_s = statistics.median(runs)
    floor_s = statistics.median(floor)
    print(
        f"  all variants ({len(result.variants)} files) + blurhash: {image_s:.3f} s median"
        f" (p100 {max(runs):.3f} s) -> {1 / image_s:.1f} images/s per core"
    )
    print(
        f"  floor, full decode alone: {floor_s:.3f} s; pipeline / floor = {image_s / floor_s:.2f}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        source = clip_1080p(Path(tmp) / "clip.mp4")
        clip_s = 10.0
        print(f"\nsource clip: {source.stat().st_size / 1e6:.1f} MB")
        decode_s = decode_only(source)
        started = time.perf_counter()
        transcode(source, Path(tmp) / "mp4", hls=False)
        mp4_s = time.perf_counter() - started
        mp4_bytes = (Path(tmp) / "mp4" / "video.mp4").stat().st_size
        started = time.perf_counter()
        transcode(source, Path(tmp) / "fast", hls=False, preset="ultrafast")
        fast_s = time.perf_counter() - started
        fast_bytes = (Path(tmp) / "fast" / "video.mp4").stat().st_size
        started = time.perf_counter()
        transcode(source, Path(tmp) / "all")
        all_s = time.perf_counter() - started
    print("\n10 s 1080p H.264 clip")
    print(
        f"  to the 720p MP4 (+ poster), VIDEO_PRESET=veryfast (default): {mp4_s:.2f} s ="
        f" {mp4_s / clip_s:.2f} x its length, {mp4_bytes / 1e6:.1f} MB"
    )
    print(
        f"  the same with VIDEO_PRESET=ultrafast: {fast_s:.2f} s = {fast_s / clip_s:.2f} x,"
        f" {fast_bytes / 1e6:.1f} MB"
    )
    print(
        f"  everything (MP4, HLS 360/540/720, poster): {all_s:.2f} s = "
        f"{all_s / clip_s:.2f} x its length"
    )
    print(f"  floor, decode alone: {decode_s:.2f} s; MP4 / floor = {mp4_s / decode_s:.2f}")
    print(f"  seconds per 10 s of 1080p video: {mp4_s:.2f} (MP4), {all_s:.2f} (everything)")
    print()
    print(f"image_12mp_all_variants_s: {image_s:.3f}")
    print(f"video_10s_1080p_to_720p_ratio: {mp4_s / clip_s:.3f}")
    print(f"video_10s_1080p_everything_ratio: {all_s / clip_s:.3f}")


if __name__ == "__main__":
    main()
