"""The learned part of routing: a text classifier trained on the LAPOR! 2017 reports shipped in data/.

Labels are the body each report was addressed to, mapped to a directory id through
db/seed/lapor2017_aliases.csv (see data/README.md). The model is trained in-process from the
shipped CSV the first time it is needed (about a second; nothing is downloaded, nothing is
pickled): Indonesian words stemmed with Sastrawi (cached per word), TF-IDF over words and word
pairs plus character 3-5-grams, and a linear SVM (one-vs-rest) whose margins, through a softmax,
feed the ranking in activities/routing.py as probabilities.

Only the train split (`int(lapor_id) % 5 != 0`) is ever used for training, at run time too, so the
figures of `python -m bench.routing` describe the model the product runs.
"""

from __future__ import annotations

import csv
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parent.parent
ROUTING_CSV = ROOT / "data" / "lapor2017_routing.csv"
LABELS_CSV = ROOT / "db" / "seed" / "lapor2017_aliases.csv"

_TOKEN = re.compile(r"[a-z]+")
_MASKS = re.compile(r"\[(TELP|NIK)\]|\d+")


def is_test(lapor_id: str) -> bool:
    """The evaluation split of data/README.md: a fifth of the reports, by id."""
    return int(lapor_id) % 5 == 0


@dataclass(frozen=True)
class Example:
    lapor_id: str
    text: str
    label: str  # the raw LAPOR! name
    agency_id: str | None  # through the alias map; None when the name names no single body
    unit_id: str | None


@lru_cache(maxsize=1)
def label_map(path: Path = LABELS_CSV) -> dict[str, tuple[str, str | None]]:
    """LAPOR! 2017 name -> (agency id, unit id or None), for the names that map to one body."""
    with path.open(newline="", encoding="utf-8") as file:
        return {
            row["name"]: (row["agency_id"], f"{row['agency_id']}/{row['unit_slug']}" if row["unit_slug"] else None)
            for row in csv.DictReader(file)
            if row["agency_id"]
        }


def load_examples(split: str, path: Path = ROUTING_CSV) -> list[Example]:
    """Labelled reports of one split ("train" or "test"); unlabelled reports are skipped."""
    mapping = label_map()
    with path.open(newline="", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row["agency"].strip()]
    chosen = [row for row in rows if is_test(row["lapor_id"]) == (split == "test")]
    return [
        Example(
            row["lapor_id"],
            f"{row['title']}\n{row['text']}",
            row["agency"],
            *(mapping.get(row["agency"], (None, None))),
        )
        for row in chosen
    ]


class _Stemmer:
    def __init__(self) -> None:
        from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

        self._stem = StemmerFactory().create_stemmer().stem
        self._cache: dict[str, str] = {}

    def __call__(self, text: str) -> list[str]:
        out = []
        for word in _TOKEN.findall(_MASKS.sub(" ", text.casefold())):
            stem = self._cache.get(word)
            if stem is None:
                stem = self._cache[word] = self._stem(word) or word
            out.append(stem)
        return out


class TextModel:
    """P(body | text) over the bodies seen in training."""

    def __init__(
        self, examples: Sequence[Example], c: float = 1.0, temperature: float = 10.0
    ) -> None:
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        self._hstack = hstack
        self._stemmer = _Stemmer()
        usable = [e for e in examples if e.agency_id]
        texts = [self._stemmed(e.text) for e in usable]
        self._words = TfidfVectorizer(
            analyzer=str.split, sublinear_tf=True, min_df=1, ngram_range=(1, 1)
        )
        self._pairs = TfidfVectorizer(sublinear_tf=True, ngram_range=(2, 2), min_df=2, token_pattern=r"\S+")
        self._chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2, max_features=60000
        )
        features = hstack(
            [
                self._words.fit_transform(texts),
                self._pairs.fit_transform(texts),
                self._chars.fit_transform([e.text.casefold() for e in usable]),
            ]
        ).tocsr()
        self._classifier = LinearSVC(C=c)
        self._classifier.fit(features, [e.agency_id for e in usable])
        self.temperature = temperature
        self.classes: list[str] = list(self._classifier.classes_)
        self._lock = threading.Lock()

    def _stemmed(self, text: str) -> str:
        return " ".join(self._stemmer(text))

    def _features(self, text: str):  # noqa: ANN202 (a scipy sparse row)
        stemmed = self._stemmed(text)
        return self._hstack(
            [
                self._words.transform([stemmed]),
                self._pairs.transform([stemmed]),
                self._chars.transform([text.casefold()]),
            ]
        ).tocsr()

    def probabilities(self, text: str) -> dict[str, float]:
        with self._lock:  # the stemmer cache is shared
            row = self._features(text)
        margins = self._classifier.decision_function(row)[0] * self.temperature
        weights = numpy.exp(margins - margins.max())
        weights /= weights.sum()
        return dict(zip(self.classes, weights.tolist(), strict=True))


_model: TextModel | None = None
_model_lock = threading.Lock()


def shared_model() -> TextModel | None:
    """The model trained once per process from the shipped train split; None if the data or the
    libraries are missing (routing then uses the directory rules alone)."""
    global _model
    with _model_lock:
        if _model is None:
            try:
                _model = TextModel(load_examples("train"))
            except (OSError, ImportError):  # pragma: no cover - a packaging mistake
                return None
        return _model
