"""The media pipeline on local storage, end to end: upload over HTTP, process in the media
worker, fetch the renditions back over HTTP."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from config.runtime import Runtime
from config.settings import Settings
from domain.media.models import Media, MediaStatus
from domain.users.models import User
from resolvers.global_ids import parse_global_id
from tests import media_files
from tests.client import GraphQLClient, upload_multipart
from tests.factories import make_user, token_for
from tests.jobs import drain
from workers.queues import MEDIA_QUEUE

MEDIA = """query($id: ID!) { node(id: $id) { ... on Media { id kind status failureReason
  createdAt width height blurhash durationMs url(width: 600) webp: url(width: 2000, format: WEBP)
  variants { url width height contentType } posterUrl playlistUrl } } }"""
CREATE = "media { id status } uploadUrl uploadHeaders { name value }"


async def signed_in(settings: Settings) -> tuple[User, str]:
    user = await make_user("ana")
    return user, token_for(user, settings)


async def create_and_put(
    client: GraphQLClient,
    token: str,
    data: bytes,
    *,
    kind: str,
    content_type: str,
    declared: str | None = None,
) -> str:
    payload = await client.mutate(
        "createUpload",
        CREATE,
        {
            "kind": kind,
            "contentType": declared or content_type,
            "byteSize": len(data),
        },
        token=token,
    )
    assert payload["errors"] == [], payload
    headers = {h["name"]: h["value"] for h in payload["uploadHeaders"]}
    async with httpx.AsyncClient() as http:
        put = await http.put(payload["uploadUrl"], content=data, headers=headers)
    assert put.status_code == 200, put.text
    media_id: str = payload["media"]["id"]
    return media_id


async def media(client: GraphQLClient, media_id: str, token: str) -> dict[str, Any]:
    node: dict[str, Any] = (await client.query(MEDIA, {"id": media_id}, token=token))["node"]
    return node


async def test_presigned_upload_to_local_storage_becomes_ready(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    # given: a portrait photo stored sideways with an EXIF rotation and a GPS position
    _, token = await signed_in(settings)
    photo = media_files.jpeg(1600, 1200, orientation=6, gps=True)

    # when
    media_id = await create_and_put(client, token, photo, kind="IMAGE", content_type="image/jpeg")
    assert (await media(client, media_id, token))["status"] == "PENDING"
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)

    # then
    item = await media(client, media_id, token)
    assert item["status"] == "READY"
    assert datetime.fromisoformat(item["createdAt"]) <= datetime.now(UTC)
    assert (item["width"], item["height"]) == (1200, 1600)  # orientation applied
    assert len(item["blurhash"]) == 28
    widths = sorted({v["width"] for v in item["variants"]})
    assert widths == [150, 320, 640, 1080]
    assert {v["contentType"] for v in item["variants"]} == {"image/jpeg", "image/webp"}
    assert item["url"].endswith("/w640.jpg")  # nearest at least as wide as 600
    assert item["webp"].endswith("/w1080.webp")  # none as wide: the largest
    async with httpx.AsyncClient() as http:
        fetched = await http.get(item["url"])
    assert fetched.status_code == 200
    variant = Image.open(io.BytesIO(fetched.content))
    assert variant.size == (640, 853)
    assert not variant.getexif()  # EXIF, GPS included, is gone


async def test_no_public_url_of_a_photo_serves_its_original_or_its_exif(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    # given: a photo with a GPS position in its EXIF, processed
    owner, token = await signed_in(settings)
    photo = media_files.jpeg(1200, 900, gps=True)
    media_id = await create_and_put(client, token, photo, kind="IMAGE", content_type="image/jpeg")
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)
    item = await media(client, media_id, token)
    assert item["status"] == "READY"
    row = await Media.get(id=parse_global_id(media_id)[1])

    # when: every URL the API gives for it is fetched, and those one could guess at
    given = {item["url"], item["webp"], *(v["url"] for v in item["variants"])}
    folder = item["url"].rsplit("/", 1)[0]
    media_base = folder.split("/m/", 1)[0]
    guessed = {
        f"{folder}/original",
        f"{media_base}/{row.original_key}",
        f"{media_base}/m/{owner.id}/{row.id}/../../../{row.original_key}",
        f"{media_base}/{row.original_key.rsplit('/', 1)[0]}/",
    }
    async with httpx.AsyncClient() as http:
        served = {url: await http.get(url) for url in given}
        refused = {url: await http.get(url) for url in guessed}

    # then: the renditions carry no EXIF (so no GPS position), and no original is served
    assert row.original_key.startswith("originals/")
    for url, response in served.items():
        assert response.status_code == 200, url
        assert response.headers["content-type"] in {"image/jpeg", "image/webp"}
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert b"Exif" not in response.content, url  # JPEG's APP1 marker
        assert b"EXIF" not in response.content, url  # WebP's chunk
        assert response.content != photo
    for url, response in refused.items():
        assert response.status_code == 404, url
        assert b"Exif" not in response.content


async def test_upload_url_is_checked(client: GraphQLClient, settings: Settings) -> None:
    _, token = await signed_in(settings)
    photo = media_files.jpeg(300, 200)
    payload = await client.mutate(
        "createUpload",
        CREATE,
        {"kind": "IMAGE", "contentType": "image/jpeg", "byteSize": len(photo)},
        token=token,
    )
    url = payload["uploadUrl"]
    async with httpx.AsyncClient() as http:
        forged = await http.put(
            url.replace("signature=", "signature=0"),
            content=photo,
            headers={"Content-Type": "image/jpeg"},
        )
        wrong_type = await http.put(url, content=photo, headers={"Content-Type": "image/png"})
        too_big = await http.put(url, content=photo + b"x", headers={"Content-Type": "image/jpeg"})
    assert forged.status_code == 403
    assert wrong_type.status_code == 400
    assert too_big.status_code == 413
    assert (await Media.get()).uploaded_at is None


async def test_create_upload_refuses_bad_declarations(
    client: GraphQLClient, settings: Settings
) -> None:
    _, token = await signed_in(settings)
    cases = [
        ({"kind": "IMAGE", "contentType": "image/tiff", "byteSize": 10}, "contentType"),
        ({"kind": "IMAGE", "contentType": "video/mp4", "byteSize": 10}, "contentType"),
        ({"kind": "IMAGE", "contentType": "image/jpeg", "byteSize": 17 * 1024 * 1024}, "byteSize"),
        ({"kind": "VIDEO", "contentType": "video/mp4", "byteSize": 101 * 1024 * 1024}, "byteSize"),
        ({"kind": "VIDEO", "contentType": "video/mp4", "byteSize": 0}, "byteSize"),
    ]
    for declared, field in cases:
        payload = await client.mutate("createUpload", CREATE, declared, token=token)
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, "INVALID_INPUT")], (
            declared
        )
    assert await Media.all().count() == 0


async def test_multipart_upload(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    _, token = await signed_in(settings)
    response = await upload_multipart(
        client.http, media_files.png(), filename="x.png", content_type="image/png", token=token
    )
    payload = response.json()["data"]["uploadMedia"]
    assert payload["errors"] == []
    assert payload["media"]["kind"] == "IMAGE"
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)
    item = await media(client, payload["media"]["id"], token)
    assert item["status"] == "READY"
    assert (item["width"], item["height"]) == (800, 600)


async def test_multipart_needs_a_preflight_header(
    client: GraphQLClient, settings: Settings
) -> None:
    _, token = await signed_in(settings)
    response = await upload_multipart(
        client.http,
        media_files.png(),
        filename="x.png",
        content_type="image/png",
        token=token,
        preflight=False,
    )
    assert response.status_code == 400
    assert "GraphQL-Preflight" in response.text
    assert await Media.all().count() == 0


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "message"),
    [
        (
            b"just some text, honestly",
            "cat.jpg",
            "image/jpeg",
            "The file is not a supported image or video.",
        ),
        (media_files.png_bomb(), "bomb.png", "image/png", "more than 33,000,000 pixels"),
        (media_files.png(), "photo.jpg", "image/jpeg", "The file is image/png, not image/jpeg"),
    ],
)
async def test_bad_files_are_refused_before_anything_is_stored(
    client: GraphQLClient,
    settings: Settings,
    media_root: Path,
    data: bytes,
    filename: str,
    content_type: str,
    message: str,
) -> None:
    user, token = await signed_in(settings)
    response = await upload_multipart(
        client.http, data, filename=filename, content_type=content_type, token=token
    )
    payload = response.json()["data"]["uploadMedia"]
    assert payload["media"] is None
    assert payload["errors"][0]["field"] == "file"
    assert message in payload["errors"][0]["message"]
    assert await Media.all().count() == 0
    assert not (media_root / "m" / str(user.id)).exists()


async def test_truncated_jpeg_fails_with_a_reason_and_leaves_nothing(
    client: GraphQLClient, settings: Settings, runtime: Runtime, media_root: Path
) -> None:
    user, token = await signed_in(settings)
    photo = media_files.jpeg(1200, 900)
    media_id = await create_and_put(
        client, token, photo[: len(photo) // 2], kind="IMAGE", content_type="image/jpeg"
    )
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)
    item = await media(client, media_id, token)
    assert item["status"] == "FAILED"
    assert item["failureReason"] == "The image is damaged or truncated."
    assert item["variants"] == []
    assert not any((media_root / "m" / str(user.id)).rglob("*"))


async def test_a_lying_content_type_fails(
    client: GraphQLClient, settings: Settings, runtime: Runtime, media_root: Path
) -> None:
    user, token = await signed_in(settings)
    media_id = await create_and_put(
        client, token, media_files.png(), kind="IMAGE", content_type="image/jpeg"
    )
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)
    item = await media(client, media_id, token)
    assert item["status"] == "FAILED"
    assert item["failureReason"] == "The file is image/png, not image/jpeg as declared."
    assert not any((media_root / "m" / str(user.id)).rglob("*"))


async def test_video_becomes_mp4_hls_and_poster(
    client: GraphQLClient, settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    _, token = await signed_in(settings)
    source = media_files.clip(tmp_path / "clip.mp4", width=960, height=540, seconds=2.5)
    media_id = await create_and_put(
        client, token, source.read_bytes(), kind="VIDEO", content_type="video/mp4"
    )
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)

    item = await media(client, media_id, token)
    assert item["status"] == "READY", item["failureReason"]
    assert (item["width"], item["height"]) == (960, 540)
    assert 2400 <= item["durationMs"] <= 2600
    assert item["url"].endswith("/video.mp4")
    async with httpx.AsyncClient() as http:
        master = (await http.get(item["playlistUrl"])).text
        poster = await http.get(item["posterUrl"])
        mp4 = await http.get(item["url"])
    assert "RESOLUTION=640x360" in master
    assert "RESOLUTION=960x540" in master
    assert Image.open(io.BytesIO(poster.content)).size == (960, 540)
    mp4_path = tmp_path / "out.mp4"
    mp4_path.write_bytes(mp4.content)
    assert mp4.content.index(b"moov") < mp4.content.index(b"mdat")  # faststart
    with av.open(str(mp4_path)) as played:
        assert played.streams.video[0].codec_context.name == "h264"
        assert played.streams.audio[0].codec_context.name == "aac"
        frames = sum(1 for _ in played.decode(video=0))
    assert frames == 75


async def test_overlong_video_fails(
    client: GraphQLClient,
    settings: Settings,
    runtime: Runtime,
    tmp_path: Path,
    media_root: Path,
) -> None:
    user, token = await signed_in(settings)
    source = media_files.clip(
        tmp_path / "long.mp4", width=64, height=64, seconds=91, fps=1, audio=False
    )
    media_id = await create_and_put(
        client, token, source.read_bytes(), kind="VIDEO", content_type="video/mp4"
    )
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)
    item = await media(client, media_id, token)
    assert item["status"] == "FAILED"
    assert item["failureReason"] == "The video is 91 s long; at most 90 s."
    assert not any((media_root / "m" / str(user.id)).rglob("*"))


async def test_processing_twice_changes_nothing(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    from domain.media.service import process_media

    _, token = await signed_in(settings)
    await create_and_put(
        client, token, media_files.jpeg(400, 300), kind="IMAGE", content_type="image/jpeg"
    )
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)
    row = await Media.get()
    again = await process_media(
        media_id=row.id, store=runtime.store, events=runtime.ports.events, media_store=runtime.media
    )
    assert again is None  # already final: a duplicate delivery is a no-op
    after = await Media.get()
    assert (after.status, after.attempts, after.variants) == (MediaStatus.READY, 1, row.variants)


async def test_media_are_private_to_their_owner_by_id(
    client: GraphQLClient, settings: Settings
) -> None:
    _, token = await signed_in(settings)
    media_id = await create_and_put(
        client, token, media_files.jpeg(300, 200), kind="IMAGE", content_type="image/jpeg"
    )
    other = token_for(await make_user("bo"), settings)
    assert (await client.query(MEDIA, {"id": media_id}, token=other))["node"] is None


async def test_complete_upload_before_the_bytes_is_refused(
    client: GraphQLClient, settings: Settings
) -> None:
    _, token = await signed_in(settings)
    payload = await client.mutate(
        "createUpload",
        CREATE,
        {"kind": "IMAGE", "contentType": "image/jpeg", "byteSize": 1000},
        token=token,
    )
    done = await client.mutate(
        "completeUpload", "media { status }", {"mediaId": payload["media"]["id"]}, token=token
    )
    assert [(e["field"], e["code"]) for e in done["errors"]] == [("mediaId", "INVALID_INPUT")]


async def test_sweep_retries_lost_and_stuck_media_and_fails_hopeless_ones(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    from datetime import UTC, datetime, timedelta

    # given: an upload whose job was lost, and two rows a crashed worker left PROCESSING
    _, token = await signed_in(settings)
    ids = [
        await create_and_put(
            client, token, media_files.jpeg(300, 200), kind="IMAGE", content_type="image/jpeg"
        )
        for _ in range(3)
    ]
    await runtime.redis.flushdb()  # the queued jobs are lost
    lost, stuck, hopeless = await Media.all().order_by("id")
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    await Media.filter(id=lost.id).update(uploaded_at=long_ago)
    await Media.filter(id=stuck.id).update(
        status=MediaStatus.PROCESSING, attempts=1, processing_started_at=long_ago
    )
    await Media.filter(id=hopeless.id).update(
        status=MediaStatus.PROCESSING, attempts=3, processing_started_at=long_ago
    )

    # when: the media worker starts (the sweep runs at start-up) and drains its queue
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)

    # then
    statuses = {m["status"] for m in [await media(client, i, token) for i in ids[:2]]}
    assert statuses == {"READY"}
    failed = await media(client, ids[2], token)
    assert failed["status"] == "FAILED"
    assert failed["failureReason"] == "Processing failed 3 times."
