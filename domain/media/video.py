"""Videos: probe, check, and make a faststart 720p MP4, HLS renditions and a poster (PyAV).

The work runs in a child process (`python -m domain.media.video SRC OUT_DIR`) so that a job that
is cancelled or times out kills FFmpeg with it instead of leaving it running in the worker.

One decode feeds every output. The top rendition is encoded once into the MP4 and its HLS
playlist is made by remuxing that MP4 (no second encode); a source that is already H.264 4:2:0
at or under 720p is copied, not re-encoded, and AAC audio is copied too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

MAX_BYTES = 100 * 1024 * 1024
MAX_SECONDS = 90  # reels; stories check their own, shorter limit
MAX_FPS = 60
MAX_LONG_SIDE, MAX_SHORT_SIDE = 1920, 1080
RENDITIONS = (360, 540, 720)  # by the short side
HLS_SEGMENT_SECONDS = 4
# x264's speed/size trade-off. veryfast: about 1/3 the bytes of ultrafast at the same quality,
# for about 3x the encode time; operators pick with VIDEO_PRESET.
DEFAULT_PRESET = "veryfast"
X264_CRF = "23"
AUDIO_RATE = 48_000
REJECTED_EXIT = 3
_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".jpg": "image/jpeg",
}


class VideoRejected(Exception):
    pass


def content_type_of(path: Path) -> str:
    return _CONTENT_TYPES.get(path.suffix, "application/octet-stream")


@dataclass
class Probe:
    width: int
    height: int
    fps: Fraction
    duration_ms: int
    video_codec: str
    pix_fmt: str | None
    audio_codec: str | None


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _size_for(short: int, width: int, height: int) -> tuple[int, int]:
    if width <= height:
        return _even(short), _even(height * short / width)
    return _even(width * short / height), _even(short)


def probe(container: Any) -> Probe:
    if not container.streams.video:
        raise VideoRejected("The file has no video track.")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    fps = stream.average_rate or stream.guessed_rate or Fraction(30)
    if container.duration:
        seconds = container.duration / 1_000_000
    elif stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    else:
        seconds = 0.0
    audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    return Probe(
        ctx.width, ctx.height, Fraction(fps), int(seconds * 1000), ctx.name, ctx.pix_fmt, audio
    )


def check(info: Probe, *, max_seconds: int = MAX_SECONDS) -> None:
    if info.width <= 0 or info.height <= 0:
        raise VideoRejected("The video has no picture size.")
    if (
        max(info.width, info.height) > MAX_LONG_SIDE
        or min(info.width, info.height) > MAX_SHORT_SIDE
    ):
        raise VideoRejected(
            f"The video is {info.width}x{info.height}; the largest taken is 1080x1920."
        )
    if info.fps > MAX_FPS:
        raise VideoRejected(f"The video has {float(info.fps):.0f} frames a second; at most 60.")
    if info.duration_ms <= 0:
        raise VideoRejected("The video's length cannot be read.")
    if info.duration_ms > max_seconds * 1000:
        raise VideoRejected(
            f"The video is {info.duration_ms / 1000:.0f} s long; at most {max_seconds} s."
        )


class _Encoder:
    """One H.264 rendition being encoded into one output container."""

    def __init__(
        self, container: Any, size: tuple[int, int], fps: Fraction, time_base: Fraction, preset: str
    ) -> None:
        self.container = container
        self.size = size
        gop = max(1, math.ceil(float(fps) * 2))  # a keyframe every 2 s: 4 s segments cut clean
        self.stream = container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = time_base
        self.stream.codec_context.options = {
            "preset": preset,
            "crf": X264_CRF,
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "profile": "high",
        }

    def encode(self, frame: Any) -> None:
        if frame is not None:
            # Bilinear is enough for a downscale of at most 2x and much cheaper than bicubic.
            frame = frame.reformat(
                width=self.size[0],
                height=self.size[1],
                format="yuv420p",
                interpolation="BILINEAR",
            )
        for packet in self.stream.encode(frame):
            self.container.mux(packet)


class _AudioEncoder:
    def __init__(self, container: Any) -> None:
        import av

        self.container = container
        self.stream = container.add_stream("aac", rate=AUDIO_RATE)
        self.stream.codec_context.layout = "stereo"
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)

    def encode(self, frame: Any) -> None:
        frames = self.resampler.resample(frame)
        for resampled in frames:
            for packet in self.stream.encode(resampled):
                self.container.mux(packet)
        if frame is None:
            for packet in self.stream.encode(None):
                self.container.mux(packet)


def _open_hls(out: Path, name: str) -> Any:
    import av

    return av.open(
        str(out / f"{name}.m3u8"),
        "w",
        format="hls",
        options={
            "hls_time": str(HLS_SEGMENT_SECONDS),
            "hls_playlist_type": "vod",
            "hls_segment_filename": str(out / f"{name}_%03d.ts"),
        },
    )


def _remux_to_hls(mp4: Path, out: Path, name: str) -> None:
    import av

    with av.open(str(mp4)) as source, _open_hls(out, name) as target:
        mapping = {
            s.index: target.add_stream_from_template(s)
            for s in source.streams
            if s.type in ("video", "audio")
        }
        for packet in source.demux(*[s for s in source.streams if s.index in mapping]):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            target.mux(packet)


def transcode(
    source: Path,
    out: Path,
    *,
    max_seconds: int = MAX_SECONDS,
    hls: bool = True,
    preset: str = DEFAULT_PRESET,
) -> dict[str, Any]:
    """Everything a client needs from `source`, written under `out`; VideoRejected when the
    content is not acceptable. `hls=False` makes only the MP4 and poster (for the benchmark)."""
    import av
    from PIL import Image

    from domain.media import blurhash

    out.mkdir(parents=True, exist_ok=True)
    (out / "hls").mkdir(exist_ok=True)
    try:
        container = av.open(str(source))
    except av.error.FFmpegError:
        raise VideoRejected("The video is damaged and cannot be read.") from None
    with container:
        info = probe(container)
        check(info, max_seconds=max_seconds)
        rotation = _rotation(source)
        if rotation in (90, 270):  # phones store portrait video sideways, with a rotation
            info.width, info.height = info.height, info.width
        vin = container.streams.video[0]
        ain = container.streams.audio[0] if container.streams.audio else None
        vin.thread_type = "AUTO"
        time_base = vin.time_base or Fraction(1, 90_000)
        short = min(info.width, info.height)
        shorts = [r for r in RENDITIONS if r <= short] or [short]
        top = shorts[-1]
        top_size = (
            (info.width, info.height) if top == short else _size_for(top, info.width, info.height)
        )
        copy_video = (
            info.video_codec == "h264"
            and info.pix_fmt == "yuv420p"
            and short <= RENDITIONS[-1]
            and rotation == 0  # HLS segments carry no rotation: such pictures are turned
        )
        upright = _Uprighter(vin, rotation) if rotation else None
        if short > RENDITIONS[-1]:
            # Every output is a downscale, which smooths blocking away anyway: skipping the
            # decoder's deblocking filter saves ~15% of the decode, the largest single cost.
            vin.codec_context.options = {"skip_loop_filter": "all"}
        copy_audio = info.audio_codec == "aac"

        mp4 = av.open(str(out / "video.mp4"), "w", format="mp4", options={"movflags": "+faststart"})
        outputs = [mp4]
        encoders: list[_Encoder] = []
        audio_encoders: list[_AudioEncoder] = []
        audio_copies: list[tuple[Any, Any]] = []
        video_copy = mp4.add_stream_from_template(vin) if copy_video else None
        if not copy_video:
            encoders.append(_Encoder(mp4, top_size, info.fps, time_base, preset))
        lower = []
        for rendition in shorts[:-1] if hls else []:
            playlist = _open_hls(out / "hls", f"{rendition}p")
            outputs.append(playlist)
            lower.append(rendition)
            encoders.append(
                _Encoder(
                    playlist,
                    _size_for(rendition, info.width, info.height),
                    info.fps,
                    time_base,
                    preset,
                )
            )
        if ain is not None:
            for output in outputs:
                if copy_audio:
                    audio_copies.append((output, output.add_stream_from_template(ain)))
                else:
                    audio_encoders.append(_AudioEncoder(output))

        poster = None
        last_ms = 0
        streams = [vin] + ([ain] if ain is not None else [])
        for packet in container.demux(*streams):
            if packet.stream.type == "video":
                # Decode only what needs pictures: the encodes, and the poster's one frame.
                if encoders or poster is None:
                    for decoded in vin.decode(packet):
                        frame = upright.turn(decoded) if upright else decoded
                        if frame.pts is not None and frame.time_base is not None:
                            last_ms = max(last_ms, int(frame.pts * frame.time_base * 1000))
                        if poster is None:
                            poster = frame.to_image()
                        for encoder in encoders:
                            encoder.encode(frame)
                if video_copy is not None and packet.dts is not None:
                    packet.stream = video_copy
                    mp4.mux(packet)
            elif copy_audio:
                if packet.dts is not None:
                    for output, stream in audio_copies:
                        copy = _clone_packet(packet)
                        copy.stream = stream
                        output.mux(copy)
            else:
                for sound in ain.decode(packet):  # type: ignore[union-attr]
                    for audio in audio_encoders:
                        audio.encode(sound)
        for encoder in encoders:
            encoder.encode(None)
        for audio in audio_encoders:
            audio.encode(None)
        for output in outputs:
            output.close()

    if poster is None:
        raise VideoRejected("The video has no pictures.")
    poster = poster.convert("RGB").resize(top_size, Image.Resampling.LANCZOS)
    poster.save(out / "poster.jpg", "JPEG", quality=82, progressive=True)
    if hls:
        _remux_to_hls(out / "video.mp4", out / "hls", f"{top}p")
        sizes = {r: _size_for(r, info.width, info.height) for r in lower} | {top: top_size}
        _write_master_playlist(out / "hls", sizes, max(info.duration_ms, last_ms, 1) / 1000)
    return {
        "width": info.width,
        "height": info.height,
        "duration_ms": max(info.duration_ms, last_ms),
        "blurhash": blurhash.encode(poster),
        "renditions": [
            {
                "key": "video.mp4",
                "width": top_size[0],
                "height": top_size[1],
                "content_type": "video/mp4",
            }
        ],
        "poster": "poster.jpg",
        "playlist": "hls/master.m3u8",
        "copied_video": copy_video,
        "copied_audio": copy_audio,
    }


def _write_master_playlist(
    hls_dir: Path, sizes: dict[int, tuple[int, int]], duration_s: float
) -> None:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for rendition, (width, height) in sorted(sizes.items()):
        total = sum(p.stat().st_size for p in hls_dir.glob(f"{rendition}p_*.ts"))
        bandwidth = int(total * 8 / duration_s * 1.2) or 1  # peak is above the average
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height}",
            f"{rendition}p.m3u8",
        ]
    (hls_dir / "master.m3u8").write_text("\n".join(lines) + "\n")


def _rotation(source: Path) -> int:
    """How far the pictures must turn clockwise to stand upright (0, 90, 180 or 270), from the
    display matrix of the first frame."""
    import av

    with av.open(str(source)) as container:
        for frame in container.decode(video=0):
            # PyAV gives the matrix's counter-clockwise angle; undoing it turns clockwise.
            return round(-frame.rotation) % 360
    return 0


class _Uprighter:
    """Turns decoded pictures upright with FFmpeg's transpose/flip filters (C, not Python)."""

    _FILTERS: ClassVar[dict[int, list[tuple[str, str | None]]]] = {
        90: [("transpose", "clock")],
        270: [("transpose", "cclock")],
        180: [("hflip", None), ("vflip", None)],
    }

    def __init__(self, stream: Any, rotation: int) -> None:
        import av.filter

        self.graph = av.filter.Graph()
        node = self.graph.add_buffer(template=stream)
        for name, argument in self._FILTERS[rotation]:
            step = self.graph.add(name, argument) if argument else self.graph.add(name)
            node.link_to(step)
            node = step
        node.link_to(self.graph.add("buffersink"))
        self.graph.configure()

    def turn(self, frame: Any) -> Any:
        self.graph.push(frame)
        return self.graph.pull()


def _clone_packet(packet: Any) -> Any:
    import av

    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
    copy.is_keyframe = packet.is_keyframe
    return copy


async def transcode_in_subprocess(
    source: Path, out: Path, *, preset: str = DEFAULT_PRESET
) -> dict[str, Any]:
    """Run `transcode` in a child process; a cancelled job kills the child, and so does the
    death of this process."""
    from domain.media.errors import MediaRejected

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "domain.media.video",
        str(source),
        str(out),
        preset,
        str(os.getpid()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode == REJECTED_EXIT:
        raise MediaRejected(json.loads(stdout)["reason"])
    if process.returncode != 0:
        raise RuntimeError(
            f"video transcoder failed ({process.returncode}): "
            f"{stderr.decode(errors='replace')[-500:]}"
        )
    result: dict[str, Any] = json.loads(stdout)
    return result


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), so a worker killed
    mid-transcode leaves no encoder running; exit now if the parent is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(1)


def main(argv: list[str]) -> int:
    source, out, preset = Path(argv[0]), Path(argv[1]), argv[2]
    _die_with_parent(int(argv[3]))
    try:
        result = transcode(source, out, preset=preset)
    except VideoRejected as rejected:
        sys.stdout.write(json.dumps({"reason": str(rejected)}))
        return REJECTED_EXIT
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
