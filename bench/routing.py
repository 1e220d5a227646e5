"""Routing evaluation on the LAPOR! 2017 reports shipped in data/ (issue 4, ARCHITECTURE.md §4).

    python -m bench.routing            # train on the train split, score the test split, learning curves
    python -m bench.routing --tune     # 5-fold cross-validation on the train split only

A report counts when its label (the LAPOR! name it was addressed to) maps to one directory body
through db/seed/lapor2017_aliases.csv; a suggestion is correct when it names that body (agency
level, which is what the administrator forwards to). The unit-level figure (the branch or dinas
too, for labels that name one) is printed as well. The last line is
`routing: product_top1=… product_top3=… reference_top1=… reference_top3=… cpu_p99_ms=…` (issue 22):
the reports replayed in id order as a learning stream from the directory rules, and for the final
block (the last half) the product beside an in-domain TF-IDF + linear SVM trained on the stream
before that block, with the product's suggestion CPU p99 in that block. The line before it is
`top1=… top3=… p99_ms=…`, p99 of one whole suggestion (rules + model) over the test reports.

Learning curves (issue 15; `--no-curve` skips them): reports replayed in id order, each ranked
first, then learned as the decision it was (activities/routing_memory.py, as production learns
from accept/dispose), accuracy over each next block of the stream (up to 10 %, 25 %, 50 %, 100 %):
- `all reports, from the rules`: every labelled report, starting from the directory rules alone (the
  shipped text model is left out: it was trained on 80 % of these very reports);
- `test split, from the shipped model`: the held-out fifth, starting from the shipped LAPOR! 2017 model.
Unit figures count the reports whose label names a unit (a branch or a dinas): unit top-1 is the
first suggestion's body and first unit; unit top-3 the right unit among the right body's units.
p99 is per suggestion (learning happens between suggestions, not counted in it), wall clock and
the CPU time of the suggesting thread (what a suggestion costs when it does not wait for a core).
Production learns in batches (a new version every ROUTING_RETRAIN_SECONDS); learning after every
decision, as here, is the best case of that.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy
from collections.abc import Sequence

from activities.routing import DirectoryEntry, Router
from activities.routing_memory import DecisionMemory, LabelledExample
from activities.routing_model import Example, TextModel, load_examples
from db.directory import directory_seed, gazetteer
from domain.models import SuggestionRequest


def seeded_entries() -> list[DirectoryEntry]:
    return [
        DirectoryEntry(
            id=seed.id,
            name=seed.name,
            kind=seed.kind.value,
            region_code=seed.region_code,
            aliases=seed.aliases,
            units=tuple((f"{seed.id}/{u.slug}", u.name) for u in seed.units),
            offices=seed.offices,
        )
        for seed in directory_seed()
    ]


def evaluate(router: Router, examples: Sequence[Example]) -> dict[str, float]:
    scored = [e for e in examples if e.agency_id]
    top1 = top3 = unit_hits = unit_total = 0
    latencies: list[float] = []
    for example in scored:
        start = time.perf_counter()
        ranked = router.rank(SuggestionRequest(tracking_id="bench", text=example.text))
        latencies.append((time.perf_counter() - start) * 1000)
        ids = [s.agency_id for s in ranked]
        top1 += ids[:1] == [example.agency_id]
        top3 += example.agency_id in ids[:3]
        if example.unit_id:
            unit_total += 1
            unit_hits += bool(ranked) and (ranked[0].agency_id, ranked[0].unit_id) == (
                example.agency_id,
                example.unit_id,
            )
    latencies.sort()
    return {
        "n": len(scored),
        "unmapped": len(examples) - len(scored),
        "top1": top1 / len(scored),
        "top3": top3 / len(scored),
        "unit_top1": unit_hits / unit_total if unit_total else 0.0,
        "unit_n": unit_total,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


CURVE_POINTS = (0.10, 0.25, 0.50, 1.00)


def learning_curve(entries: list[DirectoryEntry], stream: Sequence[Example], model: TextModel | None) -> dict:
    """Replay `stream` (id order): rank, score, then learn the decision. Per block and overall."""
    scored = sorted((e for e in stream if e.agency_id), key=lambda e: int(e.lapor_id))
    memory = DecisionMemory()
    router = Router(entries, gazetteer(), model, memory=memory)
    ends = [max(1, round(p * len(scored))) for p in CURVE_POINTS]
    hits: list[tuple[bool, bool, bool | None, bool | None]] = []  # top1, top3, unit top1, unit top3
    latencies: list[float] = []
    cpu: list[float] = []
    learn_ms: list[float] = []
    for example in scored:
        start, start_cpu = time.perf_counter(), time.thread_time()
        ranked = router.rank(SuggestionRequest(tracking_id="bench", text=example.text))
        latencies.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        ids = [s.agency_id for s in ranked]
        unit1 = unit3 = None
        if example.unit_id:
            unit1 = bool(ranked) and ranked[0].agency_id == example.agency_id and ranked[0].unit_id == example.unit_id
            mine = next((s for s in ranked if s.agency_id == example.agency_id), None)
            unit3 = mine is not None and example.unit_id in [u.unit_id for u in mine.units]
        hits.append((ids[:1] == [example.agency_id], example.agency_id in ids[:3], unit1, unit3))
        start = time.perf_counter()
        memory.add(LabelledExample(example.text, example.agency_id, example.unit_id))
        learn_ms.append((time.perf_counter() - start) * 1000)
    blocks = []
    begin = 0
    for point, end in zip(CURVE_POINTS, ends, strict=True):
        block = hits[begin:end]
        units = [h for h in block if h[2] is not None]
        blocks.append({
            "upto": point, "n": len(block),
            "top1": sum(h[0] for h in block) / max(1, len(block)),
            "top3": sum(h[1] for h in block) / max(1, len(block)),
            "unit_n": len(units),
            "unit_top1": sum(bool(h[2]) for h in units) / len(units) if units else float("nan"),
            "unit_top3": sum(bool(h[3]) for h in units) / len(units) if units else float("nan"),
        })
        begin = end
    cpu_by_example = list(cpu)
    latencies.sort()
    cpu.sort()
    return {"n": len(scored), "blocks": blocks, "cpu_ms": cpu_by_example, "ends": ends,
            "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "p99_cpu_ms": cpu[min(len(cpu) - 1, int(0.99 * len(cpu)))],
            "p50_ms": statistics.median(latencies), "learn_ms_p50": statistics.median(learn_ms)}


def reference_scores(train: Sequence[Example], test: Sequence[Example]) -> dict[str, float]:
    """The in-domain reference: TF-IDF (words 1-2) + a linear SVM trained on `train`, top-1 and
    top-3 (by decision value) on `test`; a body it never saw cannot be its answer."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    features = vectorizer.fit_transform([e.text for e in train])
    labels = [e.agency_id for e in train]
    classifier = LinearSVC(C=1.0).fit(features, labels)
    scores = classifier.decision_function(vectorizer.transform([e.text for e in test]))
    classes = list(classifier.classes_)
    if len(classes) == 2:  # a binary SVM gives one column
        scores = numpy.column_stack([-scores, scores])
    top1 = top3 = 0
    for example, row in zip(test, scores, strict=True):
        best = [classes[i] for i in numpy.argsort(-row)[:3]]
        top1 += best[0] == example.agency_id
        top3 += example.agency_id in best
    return {"top1": top1 / len(test), "top3": top3 / len(test)}


def stream_line(entries: list[DirectoryEntry], stream: Sequence[Example], curve: dict | None = None) -> str:
    """Issue 22's figure: the LAPOR! 2017 reports replayed in id order as a learning stream from the
    directory rules; for the final block (the last half), the product's top-1/top-3 beside the
    reference's trained on the stream before that block, and the product's suggestion CPU p99 there."""
    curve = curve or learning_curve(entries, stream, None)
    scored = sorted((e for e in stream if e.agency_id), key=lambda e: int(e.lapor_id))
    start = curve["ends"][-2]
    final = curve["blocks"][-1]
    reference = reference_scores(scored[:start], scored[start:])
    cpu = sorted(curve["cpu_ms"][start:])
    p99 = cpu[min(len(cpu) - 1, int(0.99 * len(cpu)))]
    return (f"routing: product_top1={final['top1']:.3f} product_top3={final['top3']:.3f} "
            f"reference_top1={reference['top1']:.3f} reference_top3={reference['top3']:.3f} cpu_p99_ms={p99:.1f}")


def print_curve(name: str, curve: dict) -> None:
    print(f"learning curve, {name}: {curve['n']} reports in id order; "
          f"p50_ms={curve['p50_ms']:.1f} p99_ms={curve['p99_ms']:.1f} per suggestion "
          f"(CPU time p99 {curve['p99_cpu_ms']:.1f} ms), "
          f"learning one decision p50 {curve['learn_ms_p50']:.1f} ms")
    for block in curve["blocks"]:
        print(f"  next block up to {block['upto']:>4.0%} (n={block['n']:>4}): top1={block['top1']:.3f} "
              f"top3={block['top3']:.3f}  unit top1={block['unit_top1']:.3f} top3={block['unit_top3']:.3f} "
              f"(n={block['unit_n']})", flush=True)


def tune(train: list[Example], entries: list[DirectoryEntry]) -> None:
    """Regularisation, softmax temperature and model weight by 5-fold cross-validation inside the
    train split (the test split is not read)."""
    folds = 5
    grid = [(t, w) for t in (5.0, 10.0, 20.0) for w in (0.7, 0.9, 1.0)]
    for c in (0.25, 0.5, 1.0):
        results: dict[tuple[float, float], list[dict[str, float]]] = {g: [] for g in grid}
        for k in range(folds):
            fit = [e for i, e in enumerate(train) if i % folds != k]
            held = [e for i, e in enumerate(train) if i % folds == k]
            model = TextModel(fit, c=c)
            for temperature, weight in grid:
                model.temperature = temperature
                router = Router(entries, gazetteer(), model, model_weight=weight)
                results[(temperature, weight)].append(evaluate(router, held))
        for (temperature, weight), runs in results.items():
            print(
                f"C={c:<5} temperature={temperature:<5} weight={weight:<4} "
                f"top1={statistics.mean(r['top1'] for r in runs):.3f} "
                f"top3={statistics.mean(r['top3'] for r in runs):.3f}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__.split("\n")[0])
    parser.add_argument("--tune", action="store_true", help="cross-validate on the train split")
    parser.add_argument("--rules-only", action="store_true", help="directory rules without the model")
    parser.add_argument("--no-curve", action="store_true", help="skip the learning curves")
    args = parser.parse_args(argv)
    entries = seeded_entries()
    train = load_examples("train")
    if args.tune:
        tune(train, entries)
        return 0
    test = load_examples("test")
    started = time.perf_counter()
    model = None if args.rules_only else TextModel(train)
    trained_s = time.perf_counter() - started
    router = Router(entries, gazetteer(), model)
    router.rank(SuggestionRequest(tracking_id="warm-up", text="jalan rusak"))
    result = evaluate(router, test)
    print(
        f"train: {sum(1 for e in train if e.agency_id)} labelled reports "
        f"({sum(1 for e in train if not e.agency_id)} with a name that maps to no single body, skipped), "
        f"{len(model.classes) if model else 0} bodies, trained in {trained_s:.1f} s"
    )
    print(
        f"test: {result['n']} reports scored, {result['unmapped']} unmapped labels skipped; "
        f"unit-level top1={result['unit_top1']:.3f} on {result['unit_n']} reports whose label names a unit; "
        f"p50_ms={result['p50_ms']:.1f}"
    )
    stream = learning_curve(entries, [*train, *test], None)
    if not args.no_curve:
        print_curve("all reports, from the rules", stream)
        print_curve("test split, from the shipped model", learning_curve(entries, test, model))
    print(f"top1={result['top1']:.3f} top3={result['top3']:.3f} p99_ms={result['p99_ms']:.1f}")
    print(stream_line(entries, [*train, *test], stream), flush=True)  # the last line (issue 22)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
