"""Object storage for media: S3 (aiobotocore) when S3_BUCKET is set, else a local folder.

Both give the same operations, so the pipeline never asks which one it has. Public URLs go
through CDN_BASE_URL when it is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import shutil
import time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def put_file(self, key: str, path: Path, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def download(self, key: str, path: Path) -> None: ...
    async def size(self, key: str) -> int | None: ...
    async def delete_prefix(self, prefix: str) -> None: ...
    async def presigned_put(
        self, key: str, *, content_type: str, byte_size: int, expires_in: int
    ) -> tuple[str, dict[str, str]]: ...
    def public_url(self, key: str) -> str: ...
    async def close(self) -> None: ...


@functools.lru_cache(maxsize=16_384)
def _quoted(key: str) -> str:
    """A key as it goes in a public URL: worked out once for the keys a feed shows again and
    again (about a per cent of a feed page's time otherwise)."""
    return quote(key)


class LocalStore:
    """Media in a folder, served by Shutter under /media; uploads PUT to Shutter's /uploads."""

    def __init__(
        self, root: Path, *, public_base_url: str, cdn_base_url: str | None, signing_secret: str
    ) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._public = public_base_url.rstrip("/")
        self._cdn = cdn_base_url.rstrip("/") if cdn_base_url else None
        self._secret = signing_secret.encode()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"object key escapes the media folder: {key!r}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        def write() -> None:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)  # readers never see half a file

        await asyncio.to_thread(write)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        def copy() -> None:
            target = self._path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            shutil.copyfile(path, tmp)
            tmp.replace(target)

        await asyncio.to_thread(copy)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def download(self, key: str, path: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self._path(key), path)

    async def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    async def delete_prefix(self, prefix: str) -> None:
        target = self._path(prefix.rstrip("/"))
        await asyncio.to_thread(shutil.rmtree, target, True)

    def upload_signature(self, key: str, content_type: str, byte_size: int, expires: int) -> str:
        message = f"{key}\n{content_type}\n{byte_size}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    async def presigned_put(
        self, key: str, *, content_type: str, byte_size: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        expires = int(time.time()) + expires_in
        query = urlencode(
            {
                "expires": expires,
                "signature": self.upload_signature(key, content_type, byte_size, expires),
            }
        )
        return f"{self._public}/uploads/{quote(key)}?{query}", {"Content-Type": content_type}

    def public_url(self, key: str) -> str:
        return f"{self._cdn or self._public + '/media'}/{_quoted(key)}"

    async def close(self) -> None:
        return None


class S3Store:
    """Media in an S3-compatible bucket, uploaded by clients straight to S3 (presigned PUT)."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        cdn_base_url: str | None,
    ) -> None:
        self.bucket = bucket
        self._endpoint = endpoint_url
        self._region = region
        self._credentials = (access_key_id, secret_access_key)
        self._cdn = cdn_base_url.rstrip("/") if cdn_base_url else None
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    from aiobotocore.config import AioConfig
                    from aiobotocore.session import get_session

                    self._client = await self._stack.enter_async_context(
                        get_session().create_client(
                            "s3",
                            endpoint_url=self._endpoint,
                            region_name=self._region,
                            aws_access_key_id=self._credentials[0],
                            aws_secret_access_key=self._credentials[1],
                            config=AioConfig(
                                s3={"addressing_style": "path"},
                                retries={"max_attempts": 3, "mode": "standard"},
                            ),
                        )
                    )
        return self._client

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        s3 = await self._s3()
        await s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await self.put(key, await asyncio.to_thread(path.read_bytes), content_type)

    async def get(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError for a missing key, as on local storage."""
        from botocore.exceptions import ClientError

        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise FileNotFoundError(key) from None
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def download(self, key: str, path: Path) -> None:
        s3 = await self._s3()
        response = await s3.get_object(Bucket=self.bucket, Key=key)
        with path.open("wb") as out:
            async with response["Body"] as body:
                while chunk := await body.read(1 << 20):
                    out.write(chunk)

    async def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        s3 = await self._s3()
        try:
            head = await s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(head["ContentLength"])

    async def delete_prefix(self, prefix: str) -> None:
        s3 = await self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                await s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    async def presigned_put(
        self, key: str, *, content_type: str, byte_size: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        s3 = await self._s3()
        url: str = await s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=expires_in,
        )
        return url, {"Content-Type": content_type}

    def public_url(self, key: str) -> str:
        if self._cdn:
            return f"{self._cdn}/{_quoted(key)}"
        base = (self._endpoint or f"https://s3.{self._region}.amazonaws.com").rstrip("/")
        return f"{base}/{self.bucket}/{_quoted(key)}"

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
