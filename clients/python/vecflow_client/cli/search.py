"""`vecflow search STORE "query"` and `vecflow search --collection NAME "query"`: ranked hits as a table."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from vecflow_client.cli.common import EXIT_OK, CliError, Session, add_command, resolve_store, run, struct_dict, to_dict

if TYPE_CHECKING:
    from vecflow_client import VecflowClient
    from vecflow_client.v1 import common_pb2

SNIPPET = 110


def add_parser(sub: Any) -> None:
    p = add_command(
        sub,
        "search",
        help="search a vector store (STORE QUERY) or a collection (--collection NAME QUERY)",
        usage='vecflow search STORE "query" [options] | vecflow search --collection NAME "query" [options]',
    )
    p.add_argument("terms", nargs="+", metavar="STORE QUERY", help="vector store id or name, then the query")
    p.add_argument("--collection", choices=["default", "categories"], help="search this upsertion collection instead")
    p.add_argument("--mode", choices=["dense", "keyword", "hybrid"], default="hybrid")
    p.add_argument("--filter", default="", help="filter expression, e.g. 'file_name = \"a.md\" AND page >= 2'")
    p.add_argument("-k", "--max-results", type=int, default=10, help="hits to return, 1-50 (default 10)")
    p.add_argument("--threshold", type=float, default=0.0, help="drop hits scoring below this")


def snippet(text: str, width: int = SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def position(hit: common_pb2.SearchHit) -> str:
    pos = hit.position
    page = f"p{pos.page} " if pos.page else ""
    return f"{page}#{hit.chunk_index} [{pos.char_start}:{pos.char_end}]"


async def handle(session: Session, client: VecflowClient) -> int:
    args = session.args
    terms: list[str] = args.terms
    if args.collection:
        if len(terms) != 1:
            raise CliError('with --collection give only the query: vecflow search --collection default "query"')
        query = terms[0]
        hits = await client.search_collection(
            query,
            collection=args.collection,
            max_num_results=args.max_results,
            mode=args.mode,
            filter=args.filter,
            score_threshold=args.threshold,
        )
        where = f"collection {args.collection}"
    else:
        if len(terms) != 2:
            raise CliError('give a vector store and a query: vecflow search STORE "query" (or --collection NAME)')
        store = await resolve_store(client, terms[0])
        query = terms[1]
        hits = await client.search(
            store.id,
            query,
            max_num_results=args.max_results,
            mode=args.mode,
            filter=args.filter,
            score_threshold=args.threshold,
        )
        where = f"vector store {store.name} ({store.id})"
        counts = store.file_counts
        if counts.in_progress:
            session.note(
                f"{counts.completed} of {counts.total} files indexed; {counts.in_progress} still being added, "
                "so these results may miss them"
            )
    if session.json:
        for rank, hit in enumerate(hits, 1):
            session.emit({"rank": rank, **to_dict(hit)})
        return EXIT_OK
    if not hits:
        session.line(f"no results in {where}")
        return EXIT_OK
    rows = []
    for rank, hit in enumerate(hits, 1):
        source = hit.file_name or hit.file_id if not args.collection else hit.object_id
        extra = struct_dict(hit.attributes)
        text = snippet(f"[{hit.section}] {hit.text}" if hit.section else hit.text)
        if extra:
            text += "  " + " ".join(f"{k}={json.dumps(v)}" for k, v in extra.items())
        rows.append((rank, f"{hit.score:.4f}", source, "" if args.collection else position(hit), text))
    column = "object" if args.collection else "file"
    session.table(
        ["#", "score", column, "position", "snippet"], rows, title=f"{len(hits)} hits in {where}, {args.mode}"
    )
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    return run(args, handle)
