"""The Milvus adapter against a real milvus-lite database in a temporary directory.

One index serves the module (each test works in its own project ids); the persistence test opens its own.
"""

from __future__ import annotations

import asyncio
import math
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from vecflow.vectors.milvus import Hit, InvalidFilterError, MilvusIndex, VectorIndexError

pytestmark = pytest.mark.asyncio(loop_scope="module")

DIM = 384


def unit(rng: random.Random) -> list[float]:
    vec = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
    norm = math.sqrt(sum(x * x for x in vec))
    return [x / norm for x in vec]


def near(vec: list[float], rng: random.Random, noise: float = 0.05) -> list[float]:
    return [x + rng.gauss(0.0, noise / math.sqrt(DIM)) for x in vec]


def chunk(project: str, store: str, file_id: str, i: int, text: str, dense: list[float], **extra: Any) -> dict:
    row = {
        "pk": f"{store}:{file_id}:{i}",
        "project_id": project,
        "vector_store_id": store,
        "file_id": file_id,
        "file_name": f"{file_id}.txt",
        "chunk_index": i,
        "page": 1,
        "char_start": i * 100,
        "char_end": i * 100 + len(text),
        "text": text,
        "dense": dense,
        "attributes": {"lang": "en" if i % 2 else "de"},
    }
    row.update(extra)
    return row


def pid(label: str) -> str:
    return f"{label}_{uuid.uuid4().hex[:10]}"


def pks(hits: list[Hit]) -> list[str]:
    return [h.pk for h in hits]


def milvus_tmp_entries() -> set[str]:
    """What milvus-lite leaves in the temp dir when not tamed: glog's milvus.* files, /tmp/milvus/."""
    found: set[str] = set()
    for root in {Path(tempfile.gettempdir()), Path("/tmp")}:
        found |= {str(p) for p in root.glob("milvus*")}
    return found


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def index(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MilvusIndex]:
    idx = MilvusIndex(str(tmp_path_factory.mktemp("milvus") / "milvus.db"), dim=DIM)
    await idx.open()
    await idx.open()  # idempotent
    try:
        yield idx
    finally:
        await idx.close()


async def test_upsert_same_pks_keeps_one_copy_and_replaces_text(index: MilvusIndex) -> None:
    rng = random.Random(1)
    project, store = pid("p"), pid("vs")
    rows = [chunk(project, store, "f1", i, f"plain text number {i}", unit(rng)) for i in range(5)]
    assert await index.upsert_chunks(rows) == 5
    assert await index.count_chunks(project, store) == 5

    assert await index.upsert_chunks(rows) == 5  # a retried job
    assert await index.count_chunks(project, store) == 5

    rows[2] = {**rows[2], "text": "now about a kumquat orchard"}
    await index.upsert_chunks([rows[2], rows[2]])  # a repeated pk in one call is one row
    assert await index.count_chunks(project, store) == 5
    assert await index.count_chunks(project, store, "f1") == 5
    assert await index.count_chunks(project, store, "other") == 0

    hits = await index.search_chunks(project, store, dense=None, text="kumquat", mode="keyword", limit=5)
    assert pks(hits) == [rows[2]["pk"]]
    assert hits[0].fields["text"] == "now about a kumquat orchard"
    assert set(hits[0].fields) == {
        "text",
        "file_id",
        "file_name",
        "chunk_index",
        "page",
        "char_start",
        "char_end",
        "attributes",
        "section",
    }
    assert hits[0].fields["chunk_index"] == 2 and hits[0].fields["file_name"] == "f1.txt"
    # the old text of that pk is gone from the BM25 index too
    old = await index.search_chunks(project, store, dense=None, text="number 2", mode="keyword", limit=10)
    assert rows[2]["pk"] not in pks(old)


async def test_tenant_isolation(index: MilvusIndex) -> None:
    rng = random.Random(2)
    a, b = pid("projA"), pid('projB"é\\')  # quotes, backslashes and non-ASCII are quoted safely
    x, y = "vs_x", "vs_y"
    vec = unit(rng)
    rows = {  # pks with ' \\ and % are escaped for milvus-lite and come back as given
        (a, x): chunk(a, x, "f", 0, "shared secret walrus", vec, pk=f"{a}:{x}:it's"),
        (b, x): chunk(b, x, "f", 0, "shared secret walrus", vec, pk=f"{b}:{x}:100%27"),
        (a, y): chunk(a, y, "f", 0, "shared secret walrus", vec, pk=f"{a}:{y}"),
    }
    await index.upsert_chunks(list(rows.values()))
    for (project, store), row in rows.items():
        assert await index.count_chunks(project, store) == 1
        for mode in ("dense", "keyword", "hybrid"):
            hits = await index.search_chunks(project, store, dense=vec, text="walrus", mode=mode, limit=10)
            assert pks(hits) == [row["pk"]], (project, store, mode)
    assert await index.count_chunks(pid("nobody"), x) == 0
    assert await index.search_chunks(pid("nobody"), x, dense=vec, text="walrus", mode="hybrid", limit=10) == []

    # the caller's filter is ANDed: it can narrow the scope, never widen it
    other = 'project_id == "' + b.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert await index.search_chunks(a, x, dense=vec, text=None, mode="dense", limit=10, filter_expr=other) == []
    hits = await index.search_chunks(b, x, dense=vec, text=None, mode="dense", limit=10, filter_expr=other)
    assert pks(hits) == [rows[b, x]["pk"]]
    for escape in ["true) or (true", 'file_id == "f") or (project_id != ""', ") or true or (", "{p}"]:
        with pytest.raises(InvalidFilterError):
            await index.search_chunks(a, x, dense=vec, text=None, mode="dense", limit=10, filter_expr=escape)


async def test_dense_keyword_hybrid_and_filters(index: MilvusIndex) -> None:
    rng = random.Random(3)
    project, store = pid("p"), pid("vs")
    vecs = [unit(rng) for _ in range(8)]
    texts = [f"common words about documents and search, paragraph {i}" for i in range(8)]
    texts[5] = "this paragraph mentions a rare axolotl once"
    await index.upsert_chunks([chunk(project, store, "f", i, texts[i], vecs[i]) for i in range(8)])
    pk = [f"{store}:f:{i}" for i in range(8)]

    dense = await index.search_chunks(project, store, dense=near(vecs[3], rng), text=None, mode="dense", limit=3)
    assert pks(dense)[0] == pk[3]
    assert dense[0].score > 0.9 > dense[1].score

    keyword = await index.search_chunks(project, store, dense=None, text="axolotl", mode="keyword", limit=3)
    assert pks(keyword) == [pk[5]]
    assert keyword[0].score > 0

    query = near(vecs[3], rng)
    hybrid = await index.search_chunks(project, store, dense=query, text="axolotl", mode="hybrid", limit=4)
    assert {pk[3], pk[5]} <= set(pks(hybrid)[:2])
    weighted = await index.search_chunks(
        project, store, dense=query, text="axolotl", mode="hybrid", limit=4, dense_weight=0.9, keyword_weight=0.1
    )
    assert pks(weighted)[0] == pk[3] and pk[5] in pks(weighted)
    # nothing for BM25 to match: hybrid still answers from the dense side
    stop_words = await index.search_chunks(project, store, dense=query, text="the and", mode="hybrid", limit=2)
    assert pks(stop_words)[0] == pk[3]

    narrowed = await index.search_chunks(
        project, store, dense=query, text=None, mode="dense", limit=8, filter_expr="chunk_index >= 2"
    )
    assert sorted(h.fields["chunk_index"] for h in narrowed) == [2, 3, 4, 5, 6, 7]
    english = await index.search_chunks(
        project, store, dense=None, text="paragraph", mode="keyword", limit=8, filter_expr='attributes["lang"] == "en"'
    )
    assert sorted(h.fields["chunk_index"] for h in english) == [1, 3, 5, 7]
    both = await index.search_chunks(
        project,
        store,
        dense=query,
        text="paragraph",
        mode="hybrid",
        limit=8,
        filter_expr='chunk_index < 4 and attributes["lang"] == "en"',
    )
    assert sorted(h.fields["chunk_index"] for h in both) == [1, 3]

    for bad in ["chunk_index >= ", "no_such_field == 1", 'chunk_index >= "two"']:
        with pytest.raises(InvalidFilterError) as caught:
            await index.search_chunks(project, store, dense=query, text="x", mode="hybrid", limit=3, filter_expr=bad)
        assert isinstance(caught.value, VectorIndexError)
        assert caught.value.reason == "INVALID_FILTER"
        assert "invalid filter expression" in str(caught.value) and "Invalid expr" in str(caught.value)

    with pytest.raises(VectorIndexError, match="dimensions"):
        await index.search_chunks(project, store, dense=[0.1] * 3, text=None, mode="dense", limit=3)
    with pytest.raises(VectorIndexError, match="mode"):
        await index.search_chunks(project, store, dense=query, text=None, mode="fuzzy", limit=3)  # type: ignore[arg-type]
    with pytest.raises(VectorIndexError, match="limit"):
        await index.search_chunks(project, store, dense=query, text=None, mode="dense", limit=0)
    with pytest.raises(VectorIndexError, match="unknown fields"):
        await index.upsert_chunks([{**chunk(project, store, "f", 9, "t", vecs[0]), "sparse": {1: 0.5}}])


async def test_delete_file_and_vector_store(index: MilvusIndex) -> None:
    rng = random.Random(4)
    project, other = pid("p"), pid("other")
    x, y = pid("vs_x"), pid("vs_y")
    rows = [chunk(project, x, "f1", i, f"f1 chunk {i}", unit(rng)) for i in range(3)]
    rows += [chunk(project, x, "f2", i, f"f2 chunk {i}", unit(rng)) for i in range(2)]
    rows += [chunk(project, y, "f1", i, f"y chunk {i}", unit(rng)) for i in range(2)]
    rows += [chunk(other, x, "f1", i, f"other chunk {i}", unit(rng), pk=f"other:{i}") for i in range(2)]
    await index.upsert_chunks(rows)

    await index.delete_file(project, x, "f1")
    assert await index.count_chunks(project, x, "f1") == 0
    assert await index.count_chunks(project, x, "f2") == 2
    assert await index.count_chunks(project, y, "f1") == 2
    assert await index.count_chunks(other, x, "f1") == 2
    hits = await index.search_chunks(project, x, dense=rows[0]["dense"], text=None, mode="dense", limit=10)
    assert {h.fields["file_id"] for h in hits} == {"f2"}

    await index.delete_vector_store(project, x)
    assert await index.count_chunks(project, x) == 0
    assert await index.count_chunks(project, y) == 2
    assert await index.count_chunks(other, x) == 2
    await index.delete_file(project, x, "f1")  # deleting nothing is fine

    await index.delete_files(project, y, ["f1", "missing"])
    assert await index.count_chunks(project, y) == 0
    assert await index.count_chunks(other, x) == 2
    await index.delete_files(project, y, [])


async def test_searching_before_anything_was_inserted_finds_nothing(tmp_path: Path) -> None:
    """BM25 has no statistics in an empty collection (milvus-lite asserts on NaN): that is no hits, not an error."""
    async with MilvusIndex(str(tmp_path / "empty.db"), dim=DIM) as empty:
        query = unit(random.Random(1))
        for mode in ("dense", "keyword", "hybrid"):
            assert await empty.search_chunks("p", "vs", dense=query, text="anything", mode=mode, limit=5) == []


async def test_items_collections_are_separate(index: MilvusIndex) -> None:
    rng = random.Random(5)
    project = pid("p")
    vec = unit(rng)

    def item(object_id: str, text: str, **extra: Any) -> dict:
        return {"project_id": project, "object_id": object_id, "text": text, "dense": vec, **extra}

    await index.upsert_items(
        "default",
        [
            item("o1", "a default item about pelicans", payload={"kind": "bird"}, item_info={"v": 1}),
            item("o2", "another default item", payload={"kind": "thing"}),
        ],
    )
    await index.upsert_items("categories", [item("o1", "a category about flamingos", pk=f"{project}:o1")])
    assert await index.count_items("default", project) == 2
    assert await index.count_items("categories", project) == 1
    assert await index.count_items("default", pid("nobody")) == 0

    hits = await index.search_items("default", project, dense=None, text="pelicans", mode="keyword", limit=5)
    assert pks(hits) == [f"{project}:o1"]
    assert hits[0].fields == {
        "object_id": "o1",
        "text": "a default item about pelicans",
        "payload": {"kind": "bird"},
        "item_info": {"v": 1},
    }
    assert await index.search_items("default", project, dense=None, text="flamingos", mode="keyword", limit=5) == []
    cats = await index.search_items("categories", project, dense=vec, text="flamingos", mode="hybrid", limit=5)
    assert [h.fields["object_id"] for h in cats] == ["o1"]
    things = await index.search_items(
        "default", project, dense=vec, text=None, mode="dense", limit=5, filter_expr='payload["kind"] == "thing"'
    )
    assert [h.fields["object_id"] for h in things] == ["o2"]

    await index.delete_items("default", project, ["o1", "missing"])
    assert await index.count_items("default", project) == 1
    assert await index.count_items("categories", project) == 1
    with pytest.raises(VectorIndexError, match="collection"):
        await index.count_items("nope", project)  # type: ignore[arg-type]


async def test_reopen_persists_keeps_logs_out_of_tmp_and_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = milvus_tmp_entries()
    rng = random.Random(6)
    uri = str(tmp_path / "data" / "milvus.db")  # the directory is created on open
    vec = unit(rng)

    first = MilvusIndex(uri, dim=DIM)
    await first.open()
    rows = [chunk("p", "vs", "f", i, f"persistent chunk {i}", unit(rng)) for i in range(300)]
    rows[0].update(dense=vec, text="the heron chunk")

    # the event loop keeps running while Milvus works
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await first.upsert_chunks(rows)
    tick.cancel()
    assert gaps and max(gaps) < 0.25

    with pytest.raises(InvalidFilterError):  # makes milvus-lite log an error: it must land in our log file
        await first.search_chunks("p", "vs", dense=vec, text=None, mode="dense", limit=1, filter_expr="bogus == ")
    await first.close()
    await first.close()  # idempotent
    assert not (tmp_path / "data" / ".milvus.db.lock").exists()  # the child was stopped

    second = MilvusIndex(uri, dim=DIM)
    async with second:
        assert await second.count_chunks("p", "vs") == 300
        hits = await second.search_chunks("p", "vs", dense=vec, text="heron", mode="hybrid", limit=1)
        assert pks(hits) == [rows[0]["pk"]]
    with pytest.raises(VectorIndexError):
        await second.count_chunks("p", "vs")  # closed

    with pytest.raises(VectorIndexError) as caught:
        await MilvusIndex(uri, dim=8).open()  # a different embedding size than the stored collections
    assert caught.value.reason == "SCHEMA_MISMATCH" and "384" in str(caught.value)

    log_file = tmp_path / "data" / "milvus-lite.log"
    assert log_file.exists() and "ParseExpr" in log_file.read_text(errors="replace")
    assert milvus_tmp_entries() - before == set()
    err = capfd.readouterr().err
    for noise in ("tantivy", "ParseExpr", "[ERROR]", "RPC error", "pkg_resources"):
        assert noise not in err


async def test_a_crashed_milvus_lite_is_restarted(tmp_path: Path) -> None:
    rng = random.Random(7)
    vec = unit(rng)
    async with MilvusIndex(str(tmp_path / "milvus.db"), dim=DIM) as idx:
        await idx.upsert_chunks([chunk("p", "vs", "f", 0, "survives a crash", vec)])
        server = idx._server
        server._p.kill()  # what a crash in the engine looks like from here
        server._p.wait()
        assert await idx.count_chunks("p", "vs") == 1  # restarted and reconnected on the next call
        assert idx._server is not server
        hits = await idx.search_chunks("p", "vs", dense=vec, text="crash", mode="hybrid", limit=1)
        assert pks(hits) == ["vs:f:0"]
