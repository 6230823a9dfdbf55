"""Media on local storage over HTTP: `PUT /uploads/{key}`, the presigned upload target (with S3,
clients PUT straight to the bucket and this route is not used), and `GET /media/{key}`, the
public renditions, never an original."""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from config.runtime import Runtime
from domain.errors import DomainError
from domain.ids import parse_id
from domain.media import flows as media_flows
from domain.media.models import Media, MediaStatus
from domain.media.object_store import LocalStore
from domain.media.store import ORIGINALS_PREFIX, is_public_key

log = logging.getLogger(__name__)

# What renditions are; anything else is a download. (Python's mimetypes calls .ts a Qt
# translation file.)
_CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
}
# A rendition's URL never changes content (a new upload is a new media id).
IMMUTABLE = "public, max-age=31536000, immutable"


class PublicMedia(StaticFiles):
    """The media folder's renditions: only keys under the public prefix (an original, with its
    EXIF and GPS position, is a 404 like a missing file), with their content types and
    cached for good."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not is_public_key("/".join(path.split(os.sep))):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        suffix = os.path.splitext(full_path)[1].lower()
        response = FileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=_CONTENT_TYPES.get(suffix, "application/octet-stream"),
            headers={"Cache-Control": IMMUTABLE},
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def upload_endpoint(
    runtime_of: Callable[[], Runtime],
) -> Callable[[Request], Awaitable[Response]]:
    async def put_upload(request: Request) -> Response:
        runtime = runtime_of()
        store = runtime.store
        if not isinstance(store, LocalStore):
            return _refuse(404, "Uploads go straight to object storage on this server.")
        key = request.path_params["key"]
        parts = key.split("/")
        if (
            len(parts) != 4
            or f"{parts[0]}/" != ORIGINALS_PREFIX
            or parse_id(parts[2]) is None
            or parts[3] != "original"
        ):
            return _refuse(404, "No such upload.")
        media = await Media.get_or_none(id=parse_id(parts[2]))
        if media is None or media.original_key != key:
            return _refuse(404, "No such upload.")
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            return _refuse(403, "The upload URL is not valid.")
        signature = request.query_params.get("signature", "")
        expected = store.upload_signature(key, media.declared_type, media.declared_size, expires)
        if not hmac.compare_digest(signature, expected):
            return _refuse(403, "The upload URL is not valid.")
        if expires < time.time():
            return _refuse(403, "The upload URL has expired; ask for a new one.")
        if request.headers.get("content-type", "").lower() != media.declared_type:
            return _refuse(400, f"Send Content-Type: {media.declared_type}, as declared.")
        if media.status is not MediaStatus.PENDING or media.uploaded_at is not None:
            return _refuse(409, "This upload is already complete.")
        limit = media.declared_size
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                return _refuse(413, f"The upload is larger than the {limit} bytes declared.")
        if not body:
            return _refuse(400, "The upload is empty.")
        await store.put(key, bytes(body), media.declared_type)
        try:
            await media_flows.complete_upload(media_id=media.id, store=store, ports=runtime.ports)
        except DomainError as error:
            return _refuse(400, error.message)
        return Response(status_code=200)

    return put_upload
