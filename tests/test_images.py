"""Image processing units: blurhash against the reference encoder, limits, orientation."""

from __future__ import annotations

import io
import random
from pathlib import Path

import blurhash as reference
import pytest
from PIL import Image

from domain.media import blurhash, images
from domain.media.errors import MediaRejected
from tests import media_files


# The reference package still calls Pillow's deprecated getdata(); ours does not.
@pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")
def test_blurhash_matches_the_reference_encoder() -> None:
    rng = random.Random(7)
    for size in [(64, 48), (32, 32), (200, 90)]:
        image = Image.new("RGB", size)
        image.frombytes(bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))
        small = image.resize((32, 32), Image.Resampling.BILINEAR)
        assert blurhash.encode(image) == reference.encode(small, 4, 3)


def test_small_images_get_one_variant_at_their_own_width() -> None:
    result = images.process_image(media_files.jpeg(100, 80))
    assert {(v.width, v.height) for v in result.variants} == {(100, 80)}


def test_the_largest_rendition_is_as_wide_as_the_source_up_to_1080() -> None:
    for source, expected in [
        (1000, [1000, 640, 320, 150]),
        (1600, [1080, 640, 320, 150]),
        (500, [500, 320, 150]),
    ]:
        result = images.process_image(media_files.jpeg(source, source * 3 // 4))
        assert sorted({v.width for v in result.variants}, reverse=True) == expected, source


def test_large_images_are_refused_by_bytes() -> None:
    with pytest.raises(MediaRejected, match="larger than 16 MB"):
        images.process_image(b"\xff\xd8\xff" + b"\0" * (16 * 1024 * 1024))


def test_transparency_is_flattened_onto_white() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (200, 100), (0, 0, 0, 0)).save(out, "PNG")
    result = images.process_image(out.getvalue())
    jpeg = Image.open(io.BytesIO(result.variants[0].data))
    assert jpeg.getpixel((10, 10)) == (255, 255, 255)


def test_video_stored_sideways_comes_out_upright(tmp_path: Path) -> None:
    """Phones store portrait video as landscape pictures plus a rotation: turn them."""
    from fractions import Fraction

    import av
    import numpy as np

    from domain.media.video import transcode

    source = tmp_path / "sideways.mp4"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.set_display_rotation(90)
        picture = np.zeros((360, 640, 3), np.uint8)
        picture[:180] = 255  # the stored top half is white: shown upright, it is the left half
        for i in range(15):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)

    result = transcode(source, tmp_path / "out", hls=False)

    assert (result["width"], result["height"]) == (360, 640)
    assert result["copied_video"] is False
    with av.open(str(tmp_path / "out" / "video.mp4")) as played:
        frame = next(played.decode(video=0))
        assert (frame.width, frame.height) == (360, 640)
        assert frame.rotation == 0
        rgb = frame.to_ndarray(format="rgb24")
    assert rgb[:, :150].mean() > 200  # white on the left
    assert rgb[:, 210:].mean() < 50  # black on the right
