"""Media, uploads: createUpload, completeUpload, uploadMedia."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import cast

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from domain.errors import ErrorCode
from domain.media.store import MediaView
from resolvers import media as resolve
from resolvers.context import Info
from resolvers.global_ids import to_global_id
from schema.errors import UserError, mutation, respond
from schema.node import Node


@strawberry.enum
class MediaKind(Enum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


@strawberry.enum(description="PENDING (waiting for bytes) -> PROCESSING -> READY or FAILED.")
class MediaStatus(Enum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"


CHOICES_KEPT = 8  # per Media object


@strawberry.enum
class ImageFormat(Enum):
    JPEG = "image/jpeg"
    WEBP = "image/webp"


@strawberry.type
class MediaVariant:
    url: str
    width: int
    height: int
    content_type: str


@strawberry.type
class HttpHeader:
    name: str
    value: str


@strawberry.type(description="A photo or video and the renditions made from it.")
class Media(Node):
    raw: strawberry.Private[MediaView]
    kind: MediaKind
    status: MediaStatus
    failure_reason: str | None
    width: int | None
    height: int | None
    blurhash: str | None
    duration_ms: int | None
    created_at: datetime
    # The rendition `url` chose for each (width, format) asked: a Media object may serve many
    # requests (see schema.posts), which mostly ask for the same few.
    chosen: strawberry.Private[dict[tuple[int | None, ImageFormat], str | None]] = (
        dataclasses.field(default_factory=dict)
    )

    @classmethod
    def from_view(cls, view: MediaView) -> Media:
        return cls(
            id=strawberry.ID(to_global_id("Media", view.id)),
            raw=view,
            kind=MediaKind(view.kind),
            status=MediaStatus(view.status),
            failure_reason=view.failure_reason,
            width=view.width,
            height=view.height,
            blurhash=view.blurhash,
            duration_ms=view.duration_ms,
            created_at=view.created_at,
        )

    @strawberry.field(description="Every rendition: image sizes in JPEG and WebP, or the MP4.")
    def variants(self, info: Info) -> list[MediaVariant]:
        store = info.context.runtime.store
        return [
            MediaVariant(
                url=store.public_url(v["key"]),
                width=v["width"],
                height=v["height"],
                content_type=v["content_type"],
            )
            for v in self.raw.variants
        ]

    @strawberry.field(
        description="The variant nearest in width (the smallest at least as wide, "
        "else the largest); for a video, its MP4. Null until READY."
    )
    def url(
        self, info: Info, width: int | None = None, format: ImageFormat = ImageFormat.JPEG
    ) -> str | None:
        try:
            key = self.chosen[width, format]
        except KeyError:
            key = self._choose(width, format)
            if len(self.chosen) < CHOICES_KEPT:
                self.chosen[width, format] = key
        return info.context.runtime.store.public_url(key) if key else None

    def _choose(self, width: int | None, format: ImageFormat) -> str | None:
        candidates = [
            v
            for v in self.raw.variants
            if self.raw.kind == "VIDEO" or v["content_type"] == format.value
        ]
        if not candidates:
            return None
        candidates.sort(key=lambda v: v["width"])
        chosen = candidates[-1]
        if width is not None:
            chosen = next((v for v in candidates if v["width"] >= width), candidates[-1])
        return cast(str, chosen["key"])

    @strawberry.field(description="A still of a video's first frame (JPEG).")
    def poster_url(self, info: Info) -> str | None:
        key = self.raw.poster_key
        return info.context.runtime.store.public_url(key) if key else None

    @strawberry.field(description="The HLS master playlist of a video (360p, 540p, 720p).")
    def playlist_url(self, info: Info) -> str | None:
        key = self.raw.playlist_key
        return info.context.runtime.store.public_url(key) if key else None


@strawberry.input
class CreateUploadInput:
    kind: MediaKind
    content_type: str
    byte_size: int


@strawberry.input
class CompleteUploadInput:
    media_id: strawberry.ID


@strawberry.input
class UploadMediaInput:
    file: Upload


@strawberry.type(
    description="PUT the bytes to uploadUrl with uploadHeaders, then call "
    "completeUpload (local storage notices the upload by itself)."
)
class CreateUploadPayload:
    media: Media | None = None
    upload_url: str | None = None
    upload_headers: list[HttpHeader] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MediaPayload:
    media: Media | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _media(view: MediaView) -> MediaPayload:
    return MediaPayload(media=Media.from_view(view))


def _upload(result: tuple[MediaView, str, dict[str, str]]) -> CreateUploadPayload:
    view, url, headers = result
    return CreateUploadPayload(
        media=Media.from_view(view),
        upload_url=url,
        upload_headers=[HttpHeader(name=k, value=v) for k, v in headers.items()],
    )


@strawberry.type
class MediaMutation:
    @mutation(
        "Start an upload: a media id and a presigned PUT URL.",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_INPUT),
    )
    async def create_upload(self, info: Info, input: CreateUploadInput) -> CreateUploadPayload:
        return await respond(
            info,
            CreateUploadPayload,
            lambda: resolve.create_upload(
                info.context,
                kind=input.kind.value,
                content_type=input.content_type,
                byte_size=input.byte_size,
            ),
            _upload,
        )

    @mutation(
        "Say the PUT is done; processing starts.",
        errors=(
            ErrorCode.UNAUTHENTICATED,
            ErrorCode.INVALID_ID,
            ErrorCode.NOT_FOUND,
            ErrorCode.INVALID_INPUT,
        ),
    )
    async def complete_upload(self, info: Info, input: CompleteUploadInput) -> MediaPayload:
        return await respond(
            info,
            MediaPayload,
            lambda: resolve.complete_upload(info.context, media_id=input.media_id),
            _media,
        )

    @mutation(
        "Upload through GraphQL multipart (send a 'GraphQL-Preflight: 1' header); processing "
        "starts at once.",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_INPUT),
    )
    async def upload_media(self, info: Info, input: UploadMediaInput) -> MediaPayload:
        async def run() -> MediaView:
            upload = cast(UploadFile, input.file)  # Starlette's, behind the Upload scalar
            data = await upload.read()
            return await resolve.upload_file(
                info.context, data=data, content_type=upload.content_type or ""
            )

        return await respond(info, MediaPayload, run, _media)
