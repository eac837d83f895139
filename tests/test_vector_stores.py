"""Vector stores through the API: create with chunking and expiry, get, list, update, delete."""

from __future__ import annotations

import grpc
from google.protobuf import field_mask_pb2
from helpers.server import Server
from test_knowledge_bases import expect_error
from vecflow.ids import new_id
from vecflow.storage import models as m
from vecflow_client.v1 import common_pb2
from vecflow_client.v1 import vector_store_service_pb2 as pb


async def test_create_with_defaults_and_custom_chunking(any_server: Server) -> None:
    stores = any_server.stubs().stores
    plain = (await stores.CreateVectorStore(pb.CreateVectorStoreRequest(name="plain"))).vector_store
    assert plain.id.startswith("vs_") and plain.object == "vector_store"
    # The default is the model's input limit (254 tokens for all-MiniLM-L6-v2), overlap 64.
    assert (plain.chunking_strategy.max_chunk_size_tokens, plain.chunking_strategy.chunk_overlap_tokens) == (254, 64)
    assert plain.status == pb.VECTOR_STORE_STATUS_COMPLETED and plain.file_counts.total == 0
    assert not plain.HasField("expires_after") and not plain.HasField("expires_at")
    custom = (
        await stores.CreateVectorStore(
            pb.CreateVectorStoreRequest(
                name="custom",
                chunking_strategy=common_pb2.ChunkingStrategy(max_chunk_size_tokens=128, chunk_overlap_tokens=32),
                expires_after=pb.ExpiresAfter(days=7),
            )
        )
    ).vector_store
    assert custom.chunking_strategy.max_chunk_size_tokens == 128 and custom.expires_after.days == 7
    delta = custom.expires_at.ToDatetime() - custom.last_active_at.ToDatetime()
    assert round(delta.total_seconds()) == 7 * 86400
    got = (await stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=custom.id))).vector_store
    assert got == custom


async def test_chunking_and_expiry_limits(server: Server) -> None:
    stores = server.stubs().stores
    cases = [
        (common_pb2.ChunkingStrategy(max_chunk_size_tokens=10_000), "chunking_strategy.max_chunk_size_tokens"),
        (
            common_pb2.ChunkingStrategy(max_chunk_size_tokens=100, chunk_overlap_tokens=51),
            "chunking_strategy.chunk_overlap_tokens",
        ),
        (
            common_pb2.ChunkingStrategy(max_chunk_size_tokens=100, chunk_overlap_tokens=-1),
            "chunking_strategy.chunk_overlap_tokens",
        ),
    ]
    for strategy, field in cases:
        details = await expect_error(
            stores.CreateVectorStore(pb.CreateVectorStoreRequest(name="x", chunking_strategy=strategy)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert details["violations"][0][0] == field
    details = await expect_error(
        stores.CreateVectorStore(pb.CreateVectorStoreRequest(name="x", expires_after=pb.ExpiresAfter(days=0))),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert details["violations"][0][0] == "expires_after.days"
    listed = (await stores.ListVectorStores(pb.ListVectorStoresRequest())).vector_stores
    assert list(listed) == []  # nothing half-created


async def test_update_with_field_mask(server: Server) -> None:
    stores = server.stubs().stores
    store = (await stores.CreateVectorStore(pb.CreateVectorStoreRequest(name="before"))).vector_store
    request = pb.UpdateVectorStoreRequest(
        vector_store_id=store.id,
        name="after",
        expires_after=pb.ExpiresAfter(days=3),
        update_mask=field_mask_pb2.FieldMask(paths=["name", "expires_after"]),
    )
    request.metadata.update({"ignored": True})  # not in the mask
    updated = (await stores.UpdateVectorStore(request)).vector_store
    assert updated.name == "after" and updated.expires_after.days == 3 and not updated.HasField("metadata")
    cleared = (
        await stores.UpdateVectorStore(
            pb.UpdateVectorStoreRequest(
                vector_store_id=store.id, update_mask=field_mask_pb2.FieldMask(paths=["expires_after"])
            )
        )
    ).vector_store
    assert not cleared.HasField("expires_after") and not cleared.HasField("expires_at")
    for paths in ([], ["chunking_strategy"]):
        details = await expect_error(
            stores.UpdateVectorStore(
                pb.UpdateVectorStoreRequest(vector_store_id=store.id, update_mask=field_mask_pb2.FieldMask(paths=paths))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert details["violations"][0][0] == "update_mask"


async def test_file_counts_and_files_come_from_storage(server: Server) -> None:
    stores = server.stubs().stores
    store = (await stores.CreateVectorStore(pb.CreateVectorStoreRequest(name="counted"))).vector_store
    batch_id = new_id("file_batch")
    async with server.app.db.session() as s:
        s.add(m.FileBatch(id=batch_id, project_id=server.key.project_id, vector_store_id=store.id))
        for i, status in enumerate(["completed", "completed", "failed", "in_progress", "cancelled"]):
            s.add(
                m.VectorStoreFile(
                    vector_store_id=store.id,
                    file_id=f"file_{i:032x}",
                    project_id=server.key.project_id,
                    status=status,
                    batch_id=batch_id if i < 3 else "",
                    last_error_code="PARSE_FAILED" if status == "failed" else "",
                )
            )
    got = (await stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=store.id))).vector_store
    counts = got.file_counts
    assert (counts.completed, counts.failed, counts.in_progress, counts.cancelled, counts.total) == (2, 1, 1, 1, 5)
    assert got.status == pb.VECTOR_STORE_STATUS_IN_PROGRESS
    batch = (await stores.GetFileBatch(pb.GetFileBatchRequest(vector_store_id=store.id, batch_id=batch_id))).file_batch
    assert batch.object == "vector_store.file_batch" and batch.file_counts.total == 3
    failed = await stores.ListVectorStoreFiles(
        pb.ListVectorStoreFilesRequest(vector_store_id=store.id, status=pb.VECTOR_STORE_FILE_STATUS_FAILED)
    )
    assert [f.last_error.code for f in failed.files] == ["PARSE_FAILED"]
    in_batch = await stores.ListFileBatchFiles(
        pb.ListFileBatchFilesRequest(vector_store_id=store.id, batch_id=batch_id)
    )
    assert len(in_batch.files) == 3


async def test_delete_removes_store_and_its_files(any_server: Server) -> None:
    stores = any_server.stubs().stores
    store = (await stores.CreateVectorStore(pb.CreateVectorStoreRequest(name="gone"))).vector_store
    await stores.DeleteVectorStore(pb.DeleteVectorStoreRequest(vector_store_id=store.id))
    await expect_error(
        stores.GetVectorStore(pb.GetVectorStoreRequest(vector_store_id=store.id)), grpc.StatusCode.NOT_FOUND
    )
    await expect_error(
        stores.DeleteVectorStore(pb.DeleteVectorStoreRequest(vector_store_id=store.id)), grpc.StatusCode.NOT_FOUND
    )
