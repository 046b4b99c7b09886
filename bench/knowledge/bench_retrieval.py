"""Knowledge-base retrieval quality on a labelled question set, beside a built-in baseline.

    .venv/bin/python bench/knowledge/bench_retrieval.py [--threshold 0.4] [--rounds 3]

Uses ``OMNIROUTE_DATABASE_URL`` or starts a private embedded PostgreSQL in a
temporary directory; migrates a fresh database, imports the sample knowledge
base (``deploy/knowledge``: 20 articles in Korean and English) and asks every
question of ``bench/knowledge/questions.tsv`` (customers' wording, labelled
with the article that answers it, or ``-`` when none does) in its language.

Printed per language and overall: recall@1, recall@3, MRR over the
answerable questions; at the answer bot's threshold, how many answerable
questions the bot would answer correctly / wrongly and how many unanswerable
ones it would wrongly answer (an answer needs the threshold and a lead of
``--margin`` over the second article, as the bot does); and the cost per query (wall ms, PostgreSQL
round trips included). The baseline in the same run is PostgreSQL's own
full-text search with the built-in ``simple`` configuration (to_tsvector over
title, keywords and body; plainto_tsquery with OR; ts_rank), which is what
one gets without n-grams: Korean words with particles never match.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from omniroute.infra.migrations import migrate
from omniroute.knowledge import store
from omniroute.knowledge.files import import_directory

ROOT = Path(__file__).resolve().parents[2]
KB = ROOT / "deploy" / "knowledge"
QUESTIONS = Path(__file__).with_name("questions.tsv")
MARGIN = 0.05
Search = Callable[[asyncpg.Connection, str, str], Awaitable[list[tuple[str, float]]]]


def load_questions() -> list[tuple[str, str | None, str]]:
    """(language, expected article or None, question) for every labelled line."""
    found = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        language, expected, question = line.split("\t", 2)
        found.append((language, None if expected == "-" else expected, question))
    return found


async def ngram_search(conn: asyncpg.Connection, question: str,
                       language: str) -> list[tuple[str, float]]:
    """omniroute's search (n-gram tsvector candidates, idf-weighted coverage)."""
    return [(h.article_id, h.score) for h in await store.search(conn, "default", question,
                                                                 language, limit=5)]


async def builtin_search(conn: asyncpg.Connection, question: str,
                         language: str) -> list[tuple[str, float]]:
    """The baseline: PostgreSQL's ``simple`` configuration, OR of the question's words."""
    rows = await conn.fetch(
        """WITH q AS (SELECT replace(plainto_tsquery('simple', $1)::text, '&', '|')::tsquery AS q)
           SELECT article_id, ts_rank(d, q) AS score FROM q, (
               SELECT article_id, to_tsvector('simple', title || ' ' ||
                   array_to_string(keywords, ' ') || ' ' || body) AS d
               FROM kb_articles WHERE workspace = 'default' AND language = $2) a
           WHERE d @@ q ORDER BY score DESC, article_id LIMIT 5""", question, language)
    return [(r["article_id"], float(r["score"])) for r in rows]


async def evaluate(conn: asyncpg.Connection, search: Search,
                   questions: list[tuple[str, str | None, str]], threshold: float | None,
                   rounds: int) -> dict[str, dict[str, float]]:
    """Quality and cost figures per language and overall."""
    groups: dict[str, dict[str, list[float]]] = {}
    for language, expected, question in questions:
        costs = []
        for _ in range(rounds):
            started = time.perf_counter()
            hits = await search(conn, question, language)
            costs.append((time.perf_counter() - started) * 1000)
        ids = [a for a, _ in hits]
        for group in (language, "all"):
            g = groups.setdefault(group, {k: [] for k in
                                          ("r1", "r3", "rr", "ms", "right", "wrong", "false")})
            g["ms"].append(statistics.median(costs))
            top = hits[0] if hits else None
            runner_up = hits[1][1] if len(hits) > 1 else 0.0
            confident = top is not None and threshold is not None and top[1] >= threshold \
                and top[1] - runner_up >= MARGIN
            if expected is None:
                g["false"].append(1.0 if confident else 0.0)
                continue
            g["r1"].append(1.0 if ids[:1] == [expected] else 0.0)
            g["r3"].append(1.0 if expected in ids[:3] else 0.0)
            g["rr"].append(1.0 / (ids.index(expected) + 1) if expected in ids else 0.0)
            g["right"].append(1.0 if confident and top and top[0] == expected else 0.0)
            g["wrong"].append(1.0 if confident and top and top[0] != expected else 0.0)
    means = ("r1", "r3", "rr", "ms")
    return {name: {k: (statistics.fmean(v) if k in means else sum(v)) if v else 0.0
                   for k, v in g.items()} | {"n": len(g["r1"]), "none": len(g["false"])}
            for name, g in groups.items()}


def report(title: str, figures: dict[str, dict[str, float]], threshold: float | None) -> None:
    print(f"\n{title}")
    print(f"  {'set':<4} {'n':>3} {'recall@1':>9} {'recall@3':>9} {'MRR':>6} {'ms/query':>9}"
          + ("   bot at threshold: right / wrong / answered-unanswerable" if threshold else ""))
    for name in ("en", "ko", "all"):
        f = figures[name]
        line = (f"  {name:<4} {int(f['n']):>3} {f['r1']:>9.3f} {f['r3']:>9.3f} {f['rr']:>6.3f} "
                f"{f['ms']:>9.2f}")
        if threshold:
            line += (f"   {int(f['right'])}/{int(f['n'])} / {int(f['wrong'])} / "
                     f"{int(f['false'])}/{int(f['none'])}")
        print(line)


async def main(threshold: float, rounds: int) -> None:
    server = os.environ.get("OMNIROUTE_DATABASE_URL")
    holder = None
    if server is None:
        from omniroute.infra.postgres import start_embedded

        holder = tempfile.TemporaryDirectory(prefix="omniroute-bench-kb-")
        server = start_embedded(Path(holder.name) / "pg")
    name = f"bench_kb_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f"CREATE DATABASE {name}")
    base, sep, query = server.partition("?")
    conn = await asyncpg.connect(f"{base.rsplit('/', 1)[0]}/{name}{sep}{query}")
    try:
        await migrate(conn)
        imported = await import_directory(conn, "default", KB)
        questions = load_questions()
        print(f"{len(imported.created)} article variants, {len(questions)} questions "
              f"({sum(1 for q in questions if q[1] is None)} with no answer in the KB); "
              f"median of {rounds} runs per query")
        ours = await evaluate(conn, ngram_search, questions, threshold, rounds)
        baseline = await evaluate(conn, builtin_search, questions, None, rounds)
        report(f"omniroute n-gram search (threshold {threshold})", ours, threshold)
        report("baseline: PostgreSQL built-in 'simple' full-text search", baseline, None)
        for metric in ("r1", "rr"):
            b = baseline["all"][metric]
            print(f"  {metric}: x{ours['all'][metric] / b:.2f} vs baseline" if b else
                  f"  {metric}: baseline 0")
    finally:
        await conn.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--margin", type=float, default=0.05,
                        help="lead over the second article the bot needs (its default)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    MARGIN = args.margin
    asyncio.run(main(args.threshold, args.rounds))
