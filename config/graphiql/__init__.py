"""GraphiQL served by Shutter itself, not from a CDN: its page works on a machine without
internet, and a browser loads nothing from anywhere else.

Strawberry's GraphiQL page loads seven files from unpkg.com, each pinned to a version and
checked by its SRI hash. The same npm packages, at the same versions, are installed in this
folder at install time (`make install` runs `npm ci` on package-lock.json); the page is rewritten
to load the files from `/graphiql-assets/...`, which serves exactly those files, and only them.
The integrity attributes stay, so the browser checks that each file is the published one.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

PACKAGES = Path(__file__).resolve().parent / "node_modules"
PREFIX = "/graphiql-assets"
_CDN = re.compile(r"https://unpkg\.com/((?:@[^/@]+/)?[^/@]+)@[^/]+/([^\"']+)")
_IMMUTABLE = "public, max-age=31536000, immutable"  # a pinned version never changes


class MissingAssets(RuntimeError):
    """The npm packages GraphiQL loads are not installed here."""


def localize(html: str) -> tuple[str, dict[str, Path]]:
    """The page with every CDN file it loads served from here, and those files by their path
    under PREFIX."""
    files: dict[str, Path] = {}

    def local(match: re.Match[str]) -> str:
        package, path = match.group(1), match.group(2)
        files[f"{package}/{path}"] = PACKAGES / package / path
        return f"{PREFIX}/{package}/{path}"

    page = _CDN.sub(local, html)
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise MissingAssets(
            f"GraphiQL's files are not installed ({', '.join(missing)}): run `make install`"
            " (it runs `npm ci` in config/graphiql), or set GRAPHIQL=false"
        )
    return page, files


def asset_endpoint(files: dict[str, Path]) -> Callable[[Request], Awaitable[Response]]:
    async def asset(request: Request) -> Response:
        path = files.get(request.path_params["path"])
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        media = "text/css" if path.suffix == ".css" else "text/javascript"
        return FileResponse(path, media_type=media, headers={"Cache-Control": _IMMUTABLE})

    return asset
