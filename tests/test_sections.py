"""Chunks that know their section, section-bounded chunking, and keyword analyzers other than English.

Headings from the DOCX, Markdown and PDF-outline parsers; section paths and the section mode of the chunker;
then through gRPC (real server, SQLite, milvus-lite and the embedding model): hits carry `section`, the
`section` filter (= and STARTS_WITH), ChunkParseResult previews, stores and upsertion collections with other
analyzers (and the refusals), and a chunks collection made before sections.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from helpers.rpc import error_details
from helpers.server import Server, start_server
from vecflow.pipeline.chunk import SECTION_SEPARATOR, Chunk, chunk_text, section_paths
from vecflow.pipeline.embed.local import LocalEmbedder
from vecflow.pipeline.parse.markdown_headings import markdown_headings
from vecflow.pipeline.parse.model import ParseLimits
from vecflow.pipeline.parse.pdf import parse_pdf
from vecflow.pipeline.parse.plain import parse_text
from vecflow.pipeline.parse.word import parse_docx
from vecflow.vectors.milvus import ANALYZERS, MilvusIndex
from vecflow_client import VecflowClient
from vecflow_client.v1 import common_pb2, job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import parse_service_pb2 as parse_pb2
from vecflow_client.v1 import upsertion_task_service_pb2 as tasks_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

SECTION_MODE = common_pb2.CHUNKING_MODE_SECTION
KEYWORD, DENSE = common_pb2.RANKING_MODE_KEYWORD, common_pb2.RANKING_MODE_DENSE

MANUAL_MD = """---
title: The Calc Manual
---
# 1 Introduction

Calc is a small calculator language for the command line.

# 2 Basic Elements

## 2.1 Numbers

Numbers are written in decimal. A trailing j makes an imaginary number, and underscores group digits.

```text
# not a heading: a comment in a code block
```

## 2.2 Strings

Strings are quoted with double quotes; a backslash escapes the next character.

Lists
-----

Lists hold values between brackets, separated by commas.

# 3 Walruses

Walruses are large flippered marine mammals with prominent tusks, found near the North Pole.
"""

CHINESE = "我们在北京大学学习自然语言处理。这门课程介绍中文分词和检索。"


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(Path(LocalEmbedder().path) / "tokenizer.json"))


# ---------------------------------------------------------------------------------------------------------------
# Headings from the parsers


def test_markdown_headings_atx_and_setext_outside_code() -> None:
    text = MANUAL_MD + "\n    # indented code\n\n- item\n---\n\nTitle *with* `code` and [a link](http://x)\n===\n"
    found = [(h.level, h.title) for h in markdown_headings(text)]
    assert found == [
        (1, "1 Introduction"),
        (1, "2 Basic Elements"),
        (2, "2.1 Numbers"),
        (2, "2.2 Strings"),
        (2, "Lists"),
        (1, "3 Walruses"),
        (1, "Title with code and a link"),
    ]
    for heading in markdown_headings(text):
        assert text[heading.char_start :].lstrip("# ").startswith(heading.title.split()[0])


def test_markdown_and_plain_text_parsers(tmp_path: Path) -> None:
    path = tmp_path / "manual.md"
    path.write_text(MANUAL_MD)
    parsed = parse_text(path, None, ParseLimits(), markdown=True)
    assert [h.title for h in parsed.headings][:3] == ["1 Introduction", "2 Basic Elements", "2.1 Numbers"]
    assert all(parsed.text.startswith("#", h.char_start) for h in parsed.headings if h.title != "Lists")
    assert parse_text(path, None, ParseLimits(), markdown=False).headings == []  # plain text has no headings


def test_docx_heading_styles_and_outline_levels(tmp_path: Path) -> None:
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    document.add_heading("Calc Manual", 0)  # the Title style
    document.add_paragraph("An introduction that mentions Numbers before their heading.")
    document.add_heading("Basic Elements", 1)
    table = document.add_table(rows=1, cols=1)
    table.cell(0, 0).paragraphs[0].text = "Numbers"
    table.cell(0, 0).paragraphs[0].style = document.styles["Heading 2"]  # in a table: not a section
    document.add_heading("Numbers", 2)
    document.add_paragraph("Numbers are written in decimal.")
    custom = document.add_paragraph("Custom outline heading")
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), "2")
    custom._p.get_or_add_pPr().append(level)
    document.add_paragraph("Text under it.")
    buffer = io.BytesIO()
    document.save(buffer)
    path = tmp_path / "manual.docx"
    path.write_bytes(buffer.getvalue())

    parsed = parse_docx(path, None, ParseLimits())
    assert [(h.level, h.title) for h in parsed.headings] == [
        (1, "Calc Manual"),
        (1, "Basic Elements"),
        (2, "Numbers"),
        (3, "Custom outline heading"),
    ]
    for heading in parsed.headings:
        assert parsed.text.startswith(heading.title, heading.char_start)
    numbers = parsed.headings[2]
    assert parsed.text[numbers.char_start :].startswith("Numbers\n\nNumbers are written")  # not the table cell


def test_pdf_outline_becomes_headings(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "outline.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pages = [
        [("1 Introduction", 0), ("Calc is a calculator.", None)],
        [("2 Basic Elements", 0), ("Intro to elements.", None), ("2.1 Numbers", 1), ("Numbers are decimal.", None)],
        [("2.2 Strings", 1), ("Strings are quoted.", None)],
    ]
    for number, lines in enumerate(pages):
        y = 800
        for text, level in lines:
            if level is not None:
                key = f"k{number}-{y}"
                pdf.bookmarkPage(key)
                pdf.addOutlineEntry(text if text != "2.1 Numbers" else "Numbers", key, level=level)
            pdf.drawString(72, y, text)
            y -= 40
        pdf.showPage()
    pdf.save()

    parsed = parse_pdf(path, None, ParseLimits())
    found = [(h.level, h.title) for h in parsed.headings]
    # "Numbers" is listed without its number: found on its page after "2 Basic Elements", numbered from the line.
    assert found == [(1, "1 Introduction"), (1, "2 Basic Elements"), (2, "2.1 Numbers"), (2, "2.2 Strings")]
    for heading in parsed.headings:
        assert parsed.text.startswith(heading.title, heading.char_start), (heading, parsed.text)
    assert parsed.headings[2].char_start > parsed.headings[1].char_start  # placed on the page, not at its start


# ---------------------------------------------------------------------------------------------------------------
# Section paths and the section mode


def manual(
    sizes: list[tuple[int, str, int]], preface: str = "Preface text before any heading."
) -> tuple[str, list[tuple[int, str, int]]]:
    """A preface, then headings (level, title) each followed by `n` sentences; the headings as parsers give them."""
    parts = [f"{preface}\n\n"]
    headings = []
    offset = len(parts[0])
    for level, title, sentences in sizes:
        body = " ".join(f"{title.split()[-1]} sentence number {i} is here." for i in range(sentences))
        block = f"{title}\n\n{body}\n\n" if body else f"{title}\n\n"
        headings.append((level, title, offset))
        parts.append(block)
        offset += len(block)
    return "".join(parts), headings


OUTLINE = [
    (1, "1 Intro", 3),
    (1, "2 Basics", 0),
    (2, "2.1 Numbers", 40),
    (2, "2.2 Strings", 12),
    (3, "2.2.1 Escapes", 12),
    (2, "2.3 Lists", 12),
    (1, "3 Walruses", 30),
]


def test_section_paths_follow_the_heading_tree() -> None:
    text, headings = manual(OUTLINE)
    paths = dict((start, path) for start, path in section_paths(headings, len(text)))
    by_title = {title: paths[start] for _, title, start in headings}
    assert by_title["2.2.1 Escapes"] == SECTION_SEPARATOR.join(["2 Basics", "2.2 Strings", "2.2.1 Escapes"])
    assert by_title["2.3 Lists"] == "2 Basics › 2.3 Lists"  # the deeper section closed
    assert by_title["3 Walruses"] == "3 Walruses"
    # Headings without a title or outside the text are ignored; a skipped level still nests.
    odd = [(1, "A", 0), (3, "C", 5), (2, " ", 7), (1, "Z", 10_000)]
    assert section_paths(odd, 100) == [(0, "A"), (5, "A › C")]


def starts_of(text: str, headings: list[tuple[int, str, int]]) -> list[tuple[int, str]]:
    return section_paths(headings, len(text))


def section_of(text: str, paths: list[tuple[int, str]], chunk: Chunk) -> str:
    """The section `chunk` starts in, a bare heading at its start (nothing but its line) skipped."""
    found = -1
    for k, (start, _) in enumerate(paths):
        if start <= chunk.char_start:
            found = k
    while 0 <= found < len(paths) - 1 and paths[found + 1][0] < chunk.char_end:
        if text[paths[found][0] : paths[found + 1][0]].strip().count("\n"):
            break
        found += 1
    return paths[found][1] if found >= 0 else ""


def check(text: str, chunks: list[Chunk], max_tokens: int) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert text[c.char_start : c.char_end] == c.text and 0 < c.token_count <= max_tokens


def test_token_window_chunks_carry_the_section_they_start_in(tokenizer: Any) -> None:
    text, headings = manual(OUTLINE)
    plain = chunk_text(text, tokenizer, 64, 16)
    chunks = chunk_text(text, tokenizer, 64, 16, headings=headings)
    check(text, chunks, 64)
    # The default mode cuts the same windows as without headings; only the sections are new.
    assert [(c.char_start, c.char_end) for c in chunks] == [(c.char_start, c.char_end) for c in plain]
    assert {c.section for c in plain} == {""}
    paths = starts_of(text, headings)
    assert [c.section for c in chunks] == [section_of(text, paths, c) for c in chunks]
    assert chunks[0].section == ""  # the preface comes before the first heading
    crossing = [c for c in chunks if any(c.char_start < start < c.char_end for _, _, start in headings)]
    assert crossing  # token windows run across section boundaries


def test_section_mode_never_crosses_a_boundary(tokenizer: Any) -> None:
    # Every section is at least a quarter of the window: no chunk may contain a heading other than at its start.
    big = [(level, title, max(sentences, 4)) for level, title, sentences in OUTLINE if sentences]
    text, headings = manual(big, preface=" ".join(["A preface long enough to stand alone as a chunk."] * 3))
    chunks = chunk_text(text, tokenizer, 64, 16, headings=headings, mode="section")
    check(text, chunks, 64)
    starts = [start for _, _, start in headings]
    for c in chunks:
        assert not any(c.char_start < start < c.char_end for start in starts), c
    paths = starts_of(text, headings)
    assert [c.section for c in chunks] == [section_of(text, paths, c) for c in chunks]
    # A long section is windowed inside itself, with the overlap; every section's text is covered.
    numbers = [c for c in chunks if c.section.endswith("2.1 Numbers")]
    assert len(numbers) > 2
    for before, after in itertools.pairwise(numbers):
        assert after.char_start < before.char_end  # overlapping windows
    for start in starts:
        assert any(c.char_start == start for c in chunks)  # each section begins a chunk


def test_section_mode_joins_small_sections_under_one_parent(tokenizer: Any) -> None:
    outline = [(1, "1 Intro", 1), (1, "2 Basics", 0), (2, "2.1 A", 1), (2, "2.2 B", 1), (1, "3 C", 1)]
    text, headings = manual(outline)
    chunks = chunk_text(text, tokenizer, 128, 16, headings=headings, mode="section")
    check(text, chunks, 128)
    basics = next(c for c in chunks if c.text.startswith("2 Basics"))
    # "2 Basics" (a bare heading) and its small subsections make one chunk, in 2.1 (where its text starts);
    # "3 C" (under another parent) does not join.
    assert "2.2 B" in basics.text and "3 C" not in basics.text and basics.section == "2 Basics › 2.1 A"
    assert any(c.section == "3 C" for c in chunks)
    # The preface and "1 Intro" share the top level: they join, but "2 Basics" (it has subsections) starts anew.
    assert "2 Basics" not in chunks[0].text
    with pytest.raises(ValueError):
        chunk_text(text, tokenizer, 128, 16, headings=headings, mode="paragraph")


def test_a_bare_heading_joins_its_long_first_subsection(tokenizer: Any) -> None:
    text, headings = manual([(1, "2 Basics", 0), (2, "2.1 Numbers", 40)])
    chunks = chunk_text(text, tokenizer, 64, 8, headings=headings, mode="section")
    check(text, chunks, 64)
    assert not any(c.text.strip() == "2 Basics" for c in chunks)  # never a heading alone
    assert chunks[1].text.startswith("2 Basics\n\n2.1 Numbers")
    # The chunk starts with the bare heading, but its text is 2.1's: it is in 2.1.
    assert {c.section for c in chunks[1:]} == {"2 Basics › 2.1 Numbers"}


# ---------------------------------------------------------------------------------------------------------------
# Analyzers in milvus-lite


async def test_every_offered_analyzer_works_on_milvus_lite(tmp_path: Path) -> None:
    """Each analyzer's collection is created and searched (the Arabic stemmer, for one, kills the 2.5.1 engine)."""
    async with MilvusIndex(str(tmp_path / "analyzers.db"), dim=4) as index:
        for name in ANALYZERS:
            rows = [
                {
                    "pk": f"vs:f:{i}",
                    "project_id": "p",
                    "vector_store_id": "vs",
                    "file_id": "f",
                    "chunk_index": i,
                    "text": text,
                    "dense": [1.0, 0.0, 0.0, float(i)],
                    "section": "S",
                }
                for i, text in enumerate(["running walruses swim", CHINESE])
            ]
            await index.upsert_chunks(rows, analyzer=name)
            hits = await index.search_chunks(
                "p", "vs", dense=None, text="walruses", mode="keyword", limit=5, analyzer=name
            )
            assert [h.fields["chunk_index"] for h in hits] == [0], name
        english = await index.search_chunks("p", "vs", dense=None, text="run", mode="keyword", limit=5)
        standard = await index.search_chunks(
            "p", "vs", dense=None, text="run", mode="keyword", limit=5, analyzer="standard"
        )
        assert len(english) == 1 and standard == []  # english stems "running"; standard keeps the word
        chinese = await index.search_chunks(
            "p", "vs", dense=None, text="北京", mode="keyword", limit=5, analyzer="chinese"
        )
        assert [h.fields["chunk_index"] for h in chinese] == [1]
        assert await index.search_chunks("p", "vs", dense=None, text="北京", mode="keyword", limit=5) == []


# ---------------------------------------------------------------------------------------------------------------
# Through the API


async def wait(server: Server, job_id: str) -> job_pb2.Job:
    async with VecflowClient(server.address, server.key.secret) as client:
        job = await client.wait_job(job_id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    return job


async def upload(server: Server, kb_id: str, name: str, content: bytes) -> kb_pb2.File:
    stubs = server.stubs()

    async def messages() -> AsyncIterator[kb_pb2.UploadFileRequest]:
        yield kb_pb2.UploadFileRequest(metadata=kb_pb2.UploadFileMetadata(kb_id=kb_id, name=name))
        yield kb_pb2.UploadFileRequest(chunk=content)

    reply = await stubs.kbs.UploadFile(messages())
    await wait(server, reply.parse_job.id)
    files = (await stubs.kbs.ListFiles(kb_pb2.ListFilesRequest(kb_id=kb_id))).files
    return next(f for f in files if f.name == name)


async def store_with(server: Server, files: list[kb_pb2.File], **request: Any) -> vs_pb2.VectorStore:
    stubs = server.stubs()
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(**request))).vector_store
    batch = (
        await stubs.stores.CreateFileBatch(
            vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[f.id for f in files])
        )
    ).file_batch
    await wait(server, batch.job_id)
    return store


async def search(
    server: Server, store_id: str, query: str, flt: str = "", mode: int = DENSE, results: int = 10
) -> list[common_pb2.SearchHit]:
    request = vs_pb2.SearchVectorStoreRequest(
        vector_store_id=store_id,
        query=query,
        max_num_results=results,
        filter=flt,
        ranking_options=common_pb2.RankingOptions(mode=mode),
    )
    return list((await server.stubs().stores.SearchVectorStore(request)).hits)


@pytest.fixture
async def srv(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    server = await start_server(tmp_path, sqlite_url)
    try:
        yield server
    finally:
        await server.close()


async def test_hits_carry_their_section_and_filter_by_it(srv: Server) -> None:
    stubs = srv.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="manuals"))).knowledge_base
    md = await upload(srv, kb.id, "calc.md", MANUAL_MD.encode())
    strategy = common_pb2.ChunkingStrategy(max_chunk_size_tokens=64, chunk_overlap_tokens=8, mode=SECTION_MODE)
    store = await store_with(srv, [md], name="calc", chunking_strategy=strategy)
    assert store.chunking_strategy.mode == SECTION_MODE and store.keyword_analyzer == "english"
    got = (await stubs.stores.GetVectorStore(vs_pb2.GetVectorStoreRequest(vector_store_id=store.id))).vector_store
    assert got.chunking_strategy.mode == SECTION_MODE

    hits = await search(srv, store.id, "what do walruses look like")
    assert hits[0].section == "3 Walruses" and "tusks" in hits[0].text
    hits = await search(srv, store.id, "how are digits grouped in numbers", mode=KEYWORD)
    assert hits[0].section == "2 Basic Elements › 2.1 Numbers"
    # In section mode no chunk mixes two chapters (only small sections under one parent share a chunk).
    every = await search(srv, store.id, "calc", results=50)
    assert len(every) >= 5
    for hit in every:
        chapters = ("# 1 Introduction", "# 2 Basic Elements", "# 3 Walruses")
        assert sum(chapter in hit.text for chapter in chapters) <= 1, hit.text

    only = await search(srv, store.id, "walruses", flt='section = "2 Basic Elements › 2.2 Strings"')
    assert only and {h.section for h in only} == {"2 Basic Elements › 2.2 Strings"}
    under = await search(srv, store.id, "walruses", flt='section STARTS_WITH "2 Basic Elements"')
    assert {h.section for h in under} >= {"2 Basic Elements › 2.1 Numbers", "2 Basic Elements › 2.2 Strings"}
    assert all(h.section.startswith("2 Basic Elements") for h in under)
    outside = await search(srv, store.id, "numbers", flt='NOT section STARTS_WITH "2 "')
    assert outside and all(not h.section.startswith("2 ") for h in outside)
    listed = await search(srv, store.id, "x", flt='section IN ["2 Basic Elements › 2.2 Strings", "3 Walruses"]')
    assert {h.section for h in listed} == {"2 Basic Elements › 2.2 Strings", "3 Walruses"}
    # The front matter and the small introduction share the first chunk, which starts before any heading.
    assert (await search(srv, store.id, "calculator language", flt='section = ""'))[0].text.startswith("---")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await search(srv, store.id, "x", flt="page STARTS_WITH 1")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # ChunkParseResult previews the same sections, in either mode.
    preview = await wait(
        srv,
        (
            await stubs.parse.ChunkParseResult(
                parse_pb2.ChunkParseResultRequest(
                    parse_result_id=md.parse_result_id, preview_chunks=100, chunking_strategy=strategy
                )
            )
        ).job.id,
    )
    result = json_format.MessageToDict(preview.result)
    assert result["mode"] == "section"
    assert [c["section"] for c in result["chunks"]][-1] == "3 Walruses"
    assert {p["section"] for p in result["positions"]} >= {"", "2 Basic Elements › 2.2 Strings"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.parse.ChunkParseResult(
            parse_pb2.ChunkParseResultRequest(
                parse_result_id=md.parse_result_id, chunking_strategy=common_pb2.ChunkingStrategy(mode=7)
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err.value)["violations"][0][0] == "chunking_strategy.mode"


async def test_keyword_analyzers_of_stores_and_collections(srv: Server) -> None:
    stubs = srv.stubs()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="x", keyword_analyzer="klingon"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [(field, description)] = error_details(err.value)["violations"]
    assert field == "keyword_analyzer" and "english, standard, chinese" in description and "french" in description

    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="zh"))).knowledge_base
    text = await upload(srv, kb.id, "course.txt", (CHINESE + "\n\nThe runners were running fast.").encode())
    chinese = await store_with(srv, [text], name="zh", keyword_analyzer="chinese")
    english = await store_with(srv, [text], name="en")
    standard = await store_with(srv, [text], name="std", keyword_analyzer="standard")
    assert (chinese.keyword_analyzer, english.keyword_analyzer) == ("chinese", "english")
    assert await search(srv, chinese.id, "北京", mode=KEYWORD)
    assert await search(srv, english.id, "北京", mode=KEYWORD) == []
    assert await search(srv, english.id, "run", mode=KEYWORD)  # stemmed
    assert await search(srv, standard.id, "run", mode=KEYWORD) == []  # kept as written
    # Each store's chunks leave with it, whatever its collection.
    await stubs.stores.DeleteVectorStore(vs_pb2.DeleteVectorStoreRequest(vector_store_id=chinese.id))
    index = await srv.app.indexing.ready()
    assert await index.count_chunks(srv.key.project_id, chinese.id, analyzer="chinese") == 0

    # Upsertion collections: the first task fixes the analyzer, a different one later is refused.
    def task(object_id: str, body: str, analyzer: str = "") -> tasks_pb2.CreateUpsertionTaskRequest:
        payload = struct_pb2.Struct()
        payload.update({"text": body})
        item = tasks_pb2.UpsertionItem(object_id=object_id, payload=payload)
        return tasks_pb2.CreateUpsertionTaskRequest(
            items=[item], collection=tasks_pb2.COLLECTION_CATEGORIES, keyword_analyzer=analyzer
        )

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.tasks.CreateUpsertionTask(task("a", CHINESE, "klingon"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    created = (await stubs.tasks.CreateUpsertionTask(task("a", CHINESE, "chinese"))).upsertion_task
    assert created.keyword_analyzer == "chinese"
    await wait(srv, created.job_id)
    later = (await stubs.tasks.CreateUpsertionTask(task("b", "更多的文本关于北京"))).upsertion_task
    assert later.keyword_analyzer == "chinese"  # unset: the collection's
    await wait(srv, later.job_id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.tasks.CreateUpsertionTask(task("c", "text", "english"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(err.value)["reason"] == "ANALYZER_MISMATCH"
    found = await stubs.tasks.SearchCollection(
        tasks_pb2.SearchCollectionRequest(
            query="北京",
            collection=tasks_pb2.COLLECTION_CATEGORIES,
            ranking_options=common_pb2.RankingOptions(mode=KEYWORD),
        )
    )
    assert sorted(h.object_id for h in found.hits) == ["a", "b"] and all(h.section == "" for h in found.hits)


def legacy_chunks_collection(db: Path, dim: int) -> None:
    """The chunks collection as vecflow made it before sections: the same fields without `section`."""
    from pymilvus import CollectionSchema, MilvusClient
    from vecflow.vectors.milvus.client import load_pymilvus
    from vecflow.vectors.milvus.lite import acquire_lite, release_lite
    from vecflow.vectors.milvus.schema import CHUNKS_COLLECTION, chunk_schema

    current = chunk_schema(load_pymilvus(), dim)
    old = CollectionSchema(
        fields=[f for f in current.fields if f.name != "section"],
        functions=current.functions,
        enable_dynamic_field=False,
    )
    db.parent.mkdir(parents=True, exist_ok=True)
    server = acquire_lite(db)
    try:
        client = MilvusClient(uri=server.uds_path)
        client.create_collection(CHUNKS_COLLECTION, schema=old, consistency_level="Strong")
        client.close()
    finally:
        release_lite(db)


async def test_a_chunks_collection_from_before_sections_keeps_working(tmp_path: Path, sqlite_url: str) -> None:
    legacy_chunks_collection((tmp_path / "data" / "milvus.db").resolve(), 384)
    server = await start_server(tmp_path, sqlite_url)
    try:
        stubs = server.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="old"))).knowledge_base
        md = await upload(server, kb.id, "calc.md", MANUAL_MD.encode())
        store = await store_with(server, [md], name="old")
        hits = await search(server, store.id, "walruses tusks")
        assert hits and "tusks" in hits[0].text and {h.section for h in hits} == {""}
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await search(server, store.id, "walruses", flt='section = "3 Walruses"')
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_details(err.value)["reason"] == "SECTIONS_UNAVAILABLE"
        # A store with another analyzer gets a new collection, with sections.
        strategy = common_pb2.ChunkingStrategy(max_chunk_size_tokens=64, mode=SECTION_MODE)
        fresh = await store_with(server, [md], name="new", keyword_analyzer="standard", chunking_strategy=strategy)
        assert (await search(server, fresh.id, "walruses", flt='section = "3 Walruses"'))[0].section == "3 Walruses"
    finally:
        await server.close()
