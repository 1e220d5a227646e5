"""Similar reports (issue 19): duplicate detection quality and the query's latency.

`python -m bench similar [--cases N] [--queries Q]`

1. **Quality**, on a labelled set built from the 1,837 LAPOR! 2017 reports in data/ (no other data
   is needed). Every report whose description has at least four sentences is split in two, as two
   citizens would write about the same problem: the *original* keeps the title and the first half
   of the description; the *second report* gets a title made of the first words of the second half
   and the rest of that half as its description. The two share the problem, not the wording. Each
   second report is then ranked (`domain.similar.rank`, the portal's scoring) against every
   original of the set at once, which is harder than the product's task (it compares with the
   cases of the same regency, or near the pin, only). The reports carry no region, category or pin,
   so only the words count: a lower bound for what the portal does with a place.
   A predicted duplicate is a case scoring at least the threshold; it is right when it is the
   report's own original. Precision = right / predicted, recall = reports whose original is
   predicted / reports.
2. **Latency** of `api.similar.similar_cases` (candidate queries + ranking) on a SQLite read model of
   N open cases (100,000 by default) spread over the regencies, half with pins, titles and
   descriptions drawn from the LAPOR! reports; Q queries of each kind (with a regency and a pin, a
   regency only, words only).

Last line: `words_precision=… words_recall=… regency_precision=… regency_recall=… cases=…
regency_pin_p99_ms=… regency_only_p99_ms=… words_only_p99_ms=…` (quality at the likely-duplicate
threshold).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from activities.routing_model import ROUTING_CSV
from domain.similar import DESCRIPTION_WORDS, LIKELY_DUPLICATE, SHOWN_MINIMUM, Report, rank, terms

SENTENCE = re.compile(r"(?<=[.!?])\s+")


def labelled_pairs(path: Path = ROUTING_CSV) -> list[tuple[Report, Report]]:
    """(original, second report of the same problem) for every report long enough to split."""
    pairs = []
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            sentences = [s for s in SENTENCE.split(" ".join(row["text"].split())) if len(s.split()) >= 3]
            if len(sentences) < 4:
                continue
            half = len(sentences) // 2
            first, second = sentences[:half], sentences[half:]
            title_words = second[0].split()[:10]
            original = Report(title=row["title"], description=" ".join(first), tracking_id=row["lapor_id"])
            again = Report(title=" ".join(title_words), description=" ".join(second[1:]) or second[0],
                           tracking_id=f"dup-{row['lapor_id']}")
            pairs.append((original, again))
    return pairs


def placed(pairs: list[tuple[Report, Report]]) -> list[tuple[Report, Report]]:
    """The same pairs, each pair in one regency (both reports), the pairs spread over the regencies."""
    from dataclasses import replace

    from portal.web import region_tree

    regencies = sorted(code for items in region_tree().regencies.values() for code, _ in items)
    random.Random(19).shuffle(regencies)
    return [(replace(o, region_code=regencies[i % len(regencies)]), replace(a, region_code=regencies[i % len(regencies)]))
            for i, (o, a) in enumerate(pairs)]


def quality() -> dict[str, float]:
    """Precision and recall at the likely-duplicate threshold, per variant."""
    pairs = labelled_pairs()
    print(f"labelled set: {len(pairs)} pairs (each second report against all {len(pairs)} originals)")
    result: dict[str, float] = {}
    for key, name, variant in (("words", "words only (no region, category or pin)", pairs),
                               ("regency", "each pair in its own regency", placed(pairs))):
        print(f"\n{name}:")
        precision, recall = score(variant)
        result |= {f"{key}_precision": round(precision, 3), f"{key}_recall": round(recall, 3)}
    return result


def score(pairs: list[tuple[Report, Report]]) -> tuple[float, float]:
    """Prints the table; returns (precision, recall) at LIKELY_DUPLICATE."""
    originals = [original for original, _ in pairs]
    started = time.perf_counter()
    rankings = {again.tracking_id: rank(again, originals, minimum=SHOWN_MINIMUM, limit=len(originals))
                for _, again in pairs}
    elapsed = time.perf_counter() - started
    print(f"ranked in {elapsed:.1f} s")
    print("| threshold | predicted | right | precision | recall | top-1 right |")
    print("|---|---|---|---|---|---|")
    at_likely = (float("nan"), float("nan"))
    for threshold in (SHOWN_MINIMUM, 0.35, LIKELY_DUPLICATE, 0.55):
        predicted = right = found = top1 = 0
        for original, again in pairs:
            kept = [m for m in rankings[again.tracking_id] if m.score >= threshold]
            predicted += len(kept)
            hits = sum(m.tracking_id == original.tracking_id for m in kept)
            right += hits
            found += hits > 0
            top1 += bool(kept) and kept[0].tracking_id == original.tracking_id
        precision = right / predicted if predicted else float("nan")
        print(f"| {threshold:.2f} | {predicted} | {right} | {precision:.1%} | {found / len(pairs):.1%} | "
              f"{top1 / len(pairs):.1%} |")
        if threshold == LIKELY_DUPLICATE:
            at_likely = (precision, found / len(pairs))
    return at_likely


def latency(cases: int, queries: int) -> dict[str, float]:
    """Prints the table; returns each query kind's p99 in ms."""
    from sqlalchemy import insert

    from portal.web import region_tree
    from api.similar import similar_cases
    from db.models import Complaint
    from db.session import make_engine, make_sessionmaker
    from db.migrate import upgrade_to_head
    from domain.visibility import PUBLIC

    rng = random.Random(19)
    with ROUTING_CSV.open(newline="", encoding="utf-8") as file:
        texts = [(row["title"], row["text"]) for row in csv.DictReader(file)]
    tree = region_tree()
    regencies = [code for items in tree.regencies.values() for code, _ in items]
    centre = {code: (rng.uniform(-8.5, 3.5), rng.uniform(96.0, 140.0)) for code in regencies}
    with tempfile.TemporaryDirectory(prefix="sp4n-similar-") as folder:
        url = f"sqlite:///{folder}/similar.db"
        upgrade_to_head(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        started = time.perf_counter()
        batch = []
        with sessions.begin() as session:
            for n in range(cases):
                title, text = rng.choice(texts)
                regency = rng.choice(regencies)
                lat, lon = centre[regency]
                pinned = rng.random() < 0.5
                batch.append(dict(
                    tracking_id=f"LAP-B{n:07d}", seq=1, status="awaiting_agency", title=title[:200],
                    description=text, report_type="pengaduan", category=None, region_code=regency,
                    location_lat=lat + rng.uniform(-0.05, 0.05) if pinned else None,
                    location_lon=lon + rng.uniform(-0.05, 0.05) if pinned else None,
                    anonymous=rng.random() < 0.1, confidential=rng.random() < 0.05, channel="web",
                    submitted_at=now - timedelta(minutes=n), policy_version="bench", calendar_version="bench",
                    updated_at=now,
                ))
                if len(batch) == 5000:
                    session.execute(insert(Complaint), batch)
                    batch = []
            if batch:
                session.execute(insert(Complaint), batch)
        print(f"\nread model: {cases} open cases in SQLite, loaded in {time.perf_counter() - started:.0f} s")
        print("| query | n | p50 ms | p99 ms | max ms | candidates compared (mean) |")
        print("|---|---|---|---|---|---|")
        result: dict[str, float] = {}
        kinds = {
            "regency + pin": lambda r, c, p: Report(r[0], r[1], c, None, p[0], p[1]),
            "regency only": lambda r, c, p: Report(r[0], r[1], c),
            "words only": lambda r, c, p: Report(r[0], r[1]),
        }
        from api.similar import candidates

        began = time.perf_counter()
        for title, text in texts:  # warm up: the stemmer's word cache, as a running API's fills
            terms(title, " ".join(text.split()[:DESCRIPTION_WORDS]))
        print(f"stemmer cache warmed with the corpus's words in {time.perf_counter() - began:.0f} s")
        for name, make in kinds.items():
            timings, compared = [], []
            with sessions() as session:
                for _ in range(queries):
                    regency = rng.choice(regencies)
                    report = make(rng.choice(texts), regency, centre[regency])
                    began = time.perf_counter()
                    similar_cases(session, report, PUBLIC)
                    timings.append((time.perf_counter() - began) * 1000)
                    compared.append(len(candidates(session, report, PUBLIC)))
            timings.sort()
            p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
            print(f"| {name} | {queries} | {statistics.median(timings):.1f} | {p99:.1f} | {timings[-1]:.1f} | "
                  f"{statistics.mean(compared):.0f} |")
            result[f"{name.replace(' + ', '_').replace(' ', '_')}_p99_ms"] = round(p99, 1)
        engine.dispose()
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench similar")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args(argv)
    result: dict[str, float] = {}
    if not args.skip_quality:
        result |= quality()
    if not args.skip_latency:
        result |= {"cases": args.cases} | latency(args.cases, args.queries)
    print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0
