"""The material file routes (size-limited multipart upload)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Path, Response, UploadFile

from libs.domain.permits.contracts import (
    MAX_UPLOAD_BYTES,
    FileRead,
)
from services.common.db import SessionDep
from services.common.problems import problems
from services.permits.dependencies import AnyCaseReader, Filer
from services.permits.files import service as files_service

router = APIRouter(prefix="/v1")


@router.post(
    "/files",
    operation_id="uploadFile",
    response_model=FileRead,
    status_code=201,
    tags=["files"],
    summary=f"Upload a material file (multipart field `file`, at most {MAX_UPLOAD_BYTES // 1_048_576} MiB)",
    description=f"The content is stored with its SHA-256; at most {MAX_UPLOAD_BYTES} bytes per file (413 beyond). "
    "Uploading the same content under the same name again answers the file stored first.",
    responses=problems(401, 403, 413, 422),
    openapi_extra={"x-max-upload-bytes": MAX_UPLOAD_BYTES},
)
async def upload_file(session: SessionDep, actor: Filer, file: Annotated[UploadFile, File()]) -> FileRead:
    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(65536):
            yield chunk

    stored, _created = await files_service.store_file(
        session=session,
        actor=actor,
        filename=file.filename or "file",
        content_type=file.content_type or "application/octet-stream",
        chunks=chunks(),
        max_bytes=MAX_UPLOAD_BYTES,
    )
    return stored


@router.get(
    "/files/{file_id}",
    operation_id="getFile",
    response_model=FileRead,
    tags=["files"],
    summary="A material file's metadata",
    responses=problems(401, 403, 404),
)
async def get_file(session: SessionDep, actor: AnyCaseReader, file_id: Annotated[str, Path(max_length=64)]) -> FileRead:
    return await files_service.get_file(session=session, actor=actor, file_id=file_id)


@router.get(
    "/files/{file_id}/content",
    operation_id="downloadFile",
    response_class=Response,
    response_model=None,
    tags=["files"],
    summary="A material file's content (always `application/octet-stream`; its uploaded type is in its metadata)",
    responses={
        **problems(401, 403, 404),
        200: {
            "description": "The file's bytes, as uploaded",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
async def get_file_content(
    session: SessionDep, actor: AnyCaseReader, file_id: Annotated[str, Path(max_length=64)]
) -> Response:
    # Always octet-stream, whatever the uploader declared: one documented media type for clients,
    # and a browser never renders an uploaded file (say, HTML) as a page of ours. The declared
    # type stays in the metadata (`GET /v1/files/{file_id}`).
    meta, content = await files_service.file_content(session=session, actor=actor, file_id=file_id)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"ETag": f'"{meta.sha256}"', "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )
