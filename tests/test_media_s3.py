"""The media pipeline against an S3 server (moto's standalone server over HTTP, aiobotocore)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from config.runtime import Runtime
from config.settings import Settings
from domain.media.object_store import S3Store
from resolvers.global_ids import parse_global_id
from tests import media_files
from tests.client import GraphQLClient
from tests.factories import make_user, token_for
from tests.jobs import drain
from workers.queues import MEDIA_QUEUE

CREATE = "media { id status } uploadUrl uploadHeaders { name value }"
MEDIA = """query($id: ID!) { node(id: $id) { ... on Media { status failureReason
  url(width: 320) variants { url } } } }"""


@pytest.fixture
async def s3_client(s3_live_server: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=s3_live_server, timeout=10) as http:
        yield GraphQLClient(http)


@pytest.fixture
def s3_runtime(runtime: Runtime, s3_store: S3Store) -> Runtime:
    """The test runtime with the S3 store, for running the media worker in-process."""
    return dataclasses.replace(runtime, store=s3_store)


async def keys_under(store: S3Store, prefix: str) -> list[str]:
    s3 = await store._s3()
    listing = await s3.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


async def upload(client: GraphQLClient, token: str, data: bytes) -> str:
    payload = await client.mutate(
        "createUpload",
        CREATE,
        {"kind": "IMAGE", "contentType": "image/jpeg", "byteSize": len(data)},
        token=token,
    )
    assert payload["errors"] == []
    assert payload["uploadUrl"].startswith("http://127.0.0.1")  # the S3 server, not Shutter
    headers = {h["name"]: h["value"] for h in payload["uploadHeaders"]}
    async with httpx.AsyncClient() as http:
        put = await http.put(payload["uploadUrl"], content=data, headers=headers)
    assert put.status_code == 200, put.text
    done = await client.mutate(
        "completeUpload", "media { status }", {"mediaId": payload["media"]["id"]}, token=token
    )
    assert done["errors"] == []
    media_id: str = payload["media"]["id"]
    return media_id


async def test_presigned_upload_to_s3_becomes_ready(
    s3_client: GraphQLClient, s3_settings: Settings, s3_runtime: Runtime, s3_store: S3Store
) -> None:
    user = await make_user("ana")
    token = token_for(user, s3_settings)
    media_id = await upload(s3_client, token, media_files.jpeg(1400, 1000))

    await drain(MEDIA_QUEUE, settings=s3_settings, runtime=s3_runtime)

    node = (await s3_client.query(MEDIA, {"id": media_id}, token=token))["node"]
    assert node["status"] == "READY"
    assert node["url"].startswith("https://cdn.example.test/m/")  # through the CDN
    assert node["url"].endswith("/w320.jpg")
    keys = await keys_under(s3_store, f"m/{user.id}/")
    assert len(keys) == 8  # 4 widths x 2 formats, public
    assert not any(key.endswith("/original") for key in keys)
    # the original, with its metadata, under the private prefix
    assert await keys_under(s3_store, f"originals/{user.id}/") == [
        f"originals/{user.id}/{parse_global_id(media_id)[1]}/original"
    ]


async def test_failed_processing_leaves_nothing_in_the_bucket(
    s3_client: GraphQLClient, s3_settings: Settings, s3_runtime: Runtime, s3_store: S3Store
) -> None:
    user = await make_user("ana")
    token = token_for(user, s3_settings)
    photo = media_files.jpeg(1400, 1000)
    media_id = await upload(s3_client, token, photo[:2000])  # a truncated JPEG

    await drain(MEDIA_QUEUE, settings=s3_settings, runtime=s3_runtime)

    node = (await s3_client.query(MEDIA, {"id": media_id}, token=token))["node"]
    assert node["status"] == "FAILED"
    assert node["failureReason"] == "The image is damaged or truncated."
    assert await keys_under(s3_store, f"m/{user.id}/") == []


async def test_a_missing_object_is_file_not_found_as_on_local_storage(s3_store: S3Store) -> None:
    await s3_store.put("models/ranking/here.zip", b"bytes", "application/zip")
    assert await s3_store.get("models/ranking/here.zip") == b"bytes"
    with pytest.raises(FileNotFoundError):
        await s3_store.get("models/ranking/not-here.zip")
