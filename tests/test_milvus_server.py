"""vecflow on a Milvus server (`VECFLOW_MILVUS_URI=http://host:port`), tested for real: milvus-lite's engine
started as a gRPC server on a loopback port (the protocol a Milvus standalone speaks), shared by two in-process
vecflow servers that share nothing else (each has its own data directory and SQLite file)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from helpers.milvus_server import free_port, milvus_lite_tcp
from helpers.server import Server, start_server
from pymilvus import MilvusClient
from test_pipeline import upload, wait
from vecflow.config import MILVUS_INDEX_CHOICES, Settings, SettingsError
from vecflow.vectors.milvus import CHUNKS_COLLECTION, INDEX_TYPES, MilvusIndex, VectorIndexError
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

module_loop = pytest.mark.asyncio(loop_scope="module")

NOTES = {
    "a": "Axolotls regrow lost limbs, parts of their heart and even their spinal cord within weeks.",
    "b": "Basalt columns form when thick lava cools slowly and cracks into hexagonal pillars.",
}
QUERIES = {"a": "which animal regrows its limbs", "b": "how do hexagonal rock pillars form"}


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with milvus_lite_tcp(tmp_path_factory.mktemp("milvus-server")) as uri:
        yield uri


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def replicas(tmp_path_factory: pytest.TempPathFactory, milvus_uri: str) -> AsyncIterator[dict[str, Server]]:
    """Two vecflow servers on one Milvus server, each with its own data directory and SQLite database."""
    started: dict[str, Server] = {}
    try:
        for name in NOTES:
            home = tmp_path_factory.mktemp(f"replica-{name}")
            started[name] = await start_server(
                home,
                f"sqlite+aiosqlite:///{home / 'vecflow.db'}",
                milvus_uri=milvus_uri,
                parse_workers=1,
                embedding_workers=1,
            )
        yield started
    finally:
        for srv in started.values():
            await srv.close()


async def index_note(srv: Server, name: str) -> tuple[str, str, int]:
    """Upload NOTES[name], add it to a new vector store, wait for the job; (store id, file id, chunk count)."""
    stubs = srv.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name=f"notes-{name}"))).knowledge_base
    uploaded = await upload(stubs, kb.id, f"{name}.txt", NOTES[name].encode())
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name=f"vs-{name}"))).vector_store
    added = await stubs.stores.AddFilesToVectorStore(
        vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store.id, file_ids=[uploaded.file.id])
    )
    job = await wait(srv, added.job.id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    vs_file = (
        await stubs.stores.GetVectorStoreFile(
            vs_pb2.GetVectorStoreFileRequest(vector_store_id=store.id, file_id=uploaded.file.id)
        )
    ).file
    assert vs_file.chunk_count > 0
    return store.id, uploaded.file.id, vs_file.chunk_count


@module_loop
async def test_two_replicas_index_and_search_through_one_milvus_server(
    replicas: dict[str, Server], milvus_uri: str
) -> None:
    a, b = replicas["a"], replicas["b"]
    first = await a.app.indexing.ready()  # creates the collections on the server
    second = await b.app.indexing.ready()  # finds them
    for index in (first, second):
        assert index.uri == milvus_uri and not index.is_lite and index.index_type == "FLAT"
        assert "GetVersion" in index.index_reason and "milvus-lite" in index.index_reason
    assert "kept" in second.index_reason

    indexed = {name: await index_note(srv, name) for name, srv in replicas.items()}
    for name, srv in replicas.items():
        store_id, file_id, _ = indexed[name]
        request = vs_pb2.SearchVectorStoreRequest(vector_store_id=store_id, query=QUERIES[name])
        hits = (await srv.stubs().stores.SearchVectorStore(request)).hits
        assert hits and hits[0].file_id == file_id and hits[0].text in NOTES[name]

    # The rows live in the TCP server: a client of our own counts them, and each replica sees the other's.
    direct = MilvusClient(uri=milvus_uri, timeout=10)
    try:
        assert direct.describe_index(CHUNKS_COLLECTION, "dense")["index_type"] == "FLAT"
        for name, (store_id, _, chunks) in indexed.items():
            counted = direct.query(
                CHUNKS_COLLECTION,
                filter=f'vector_store_id == "{store_id}"',
                output_fields=["count(*)"],
                consistency_level="Strong",
            )
            assert counted[0]["count(*)"] == chunks
            other = second if name == "a" else first
            assert await other.count_chunks(replicas[name].key.project_id, store_id) == chunks
    finally:
        direct.close()


@module_loop
async def test_an_existing_collection_keeps_its_index(
    replicas: dict[str, Server], milvus_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    dim = (await replicas["a"].app.indexing.ready()).dim  # the collections exist, with FLAT
    caplog.set_level(logging.INFO, logger="vecflow.vectors.milvus")
    async with MilvusIndex(milvus_uri, dim=dim, index_type="ivf_flat") as index:
        assert index.requested_index == "IVF_FLAT"
        assert index.index_type == "FLAT" and "kept" in index.index_reason
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("keeps its FLAT dense index" in m and "VECFLOW_MILVUS_INDEX=IVF_FLAT" in m for m in warned), warned
    assert any("Milvus dense index: FLAT" in r.getMessage() for r in caplog.records)


@module_loop
async def test_an_index_type_the_server_refuses_fails_opening_and_auto_heals_it(tmp_path: Path) -> None:
    with milvus_lite_tcp(tmp_path) as uri:
        with pytest.raises(VectorIndexError) as refused:
            await MilvusIndex(uri, dim=8, index_type="HNSW").open()
        message = str(refused.value)
        assert "VECFLOW_MILVUS_INDEX" in message and "HNSW" in message and "refused" in message
        # The collection was left without a dense index; auto gives it one.
        async with MilvusIndex(uri, dim=8) as index:
            assert index.index_type == "FLAT" and "GetVersion" in index.index_reason


@module_loop
async def test_an_index_type_the_engine_cannot_build_is_refused_before_serving(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="milvus-lite's engine builds only AUTOINDEX, FLAT, IVF_FLAT") as err:
        await start_server(tmp_path / "file", f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", milvus_index="HNSW")
    assert "VECFLOW_MILVUS_INDEX=HNSW" in str(err.value)
    (tmp_path / "tcp").mkdir()
    with milvus_lite_tcp(tmp_path / "tcp") as uri:
        with pytest.raises(SettingsError, match=f"the Milvus server at {uri} is milvus-lite's engine"):
            await start_server(
                tmp_path / "tcp", f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", milvus_uri=uri, milvus_index="HNSW"
            )
        server = await start_server(
            tmp_path / "ok", f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", milvus_uri=uri, milvus_index="IVF_FLAT"
        )
        await server.close()
    # Nothing was refused for a server that is not there: the first call that needs Milvus says so.
    server = await start_server(
        tmp_path / "gone",
        f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
        milvus_uri=f"http://127.0.0.1:{free_port()}",
        milvus_index="HNSW",
    )
    await server.close()


def test_a_bogus_index_setting_fails_at_start(tmp_path: Path) -> None:
    assert set(MILVUS_INDEX_CHOICES) == {"auto", *INDEX_TYPES}
    assert Settings.from_env(env={}).milvus_index == "auto"
    assert Settings.from_env(env={"VECFLOW_MILVUS_INDEX": " hnsw "}).milvus_index == "HNSW"
    with pytest.raises(SettingsError, match="VECFLOW_MILVUS_INDEX='bogus' is not one of auto, FLAT, HNSW"):
        Settings.from_env(env={"VECFLOW_MILVUS_INDEX": "bogus"})

    env = {
        **os.environ,
        "VECFLOW_DATA_DIR": str(tmp_path / "data"),
        "VECFLOW_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}",
        "VECFLOW_METRICS_ADDRESS": "",
        "VECFLOW_MILVUS_INDEX": "bogus",
    }
    result = subprocess.run(
        [sys.executable, "-m", "vecflow", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "VECFLOW_MILVUS_INDEX='bogus'" in result.stderr
    assert "auto, FLAT, HNSW, IVF_FLAT, AUTOINDEX" in result.stderr and "Traceback" not in result.stderr
