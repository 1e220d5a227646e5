"""What the router learns from decisions: a memory of labelled complaints, voted on by similarity.

Every accept (this body), dispose (this body, this unit), "not our authority" (not this body) and
imported past complaint is a labelled example (db.models.RoutingExample). The memory holds them as
hashed word (1-2) and character 4-gram vectors, weighted by TF-IDF over the memory itself; a new
complaint's nearest examples (cosine) vote for their body and unit, a negative example against its
body. Nothing is fitted per class, so learning one more decision is one more row (`add`), the same
model ranks bodies and units, and a city's own history shapes its own cases from its first import.

A memory is stored as a versioned artefact (`to_bytes`: NumPy arrays, no pickle, so loading one
from the database never runs code) in the routing_models table; every process loads the active
version (activities/routing_learning.py).
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy
from scipy import sparse

MAX_TEXT_CHARS = 3000
N_FEATURES = 2**18
NEIGHBOURS = 12
MIN_SIMILARITY = 0.08


@dataclass(frozen=True)
class LabelledExample:
    """One decision: `positive` False means "not this body" (a bounce)."""

    text: str
    agency_id: str
    unit_id: str | None = None
    positive: bool = True
    region_code: str | None = None


@dataclass
class Vote:
    """What the neighbours of one text say: per body and per unit, the share of the similarity
    of the agreeing neighbours (0-1), how many there were, and the bodies they bounced away."""

    agencies: dict[str, float] = field(default_factory=dict)
    agency_counts: dict[str, int] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)  # within its body: sums to <= 1 per body
    unit_counts: dict[str, int] = field(default_factory=dict)
    against: dict[str, float] = field(default_factory=dict)  # similarity of the closest bounce


_WORDS = re.compile(r"[^\W\d_]{2,}")


def _hashed_terms(text: str) -> list[int]:
    """Word 1-2-grams and character 4-grams of each word (padded with a space), hashed (CRC-32,
    the same in every process, so a stored artefact means the same everywhere)."""
    words = _WORDS.findall(text[:MAX_TEXT_CHARS].casefold())
    grams = [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]
    for word in words:
        padded = f" {word} "
        grams += [padded[i : i + 4] for i in range(len(padded) - 3)]
    mask = N_FEATURES - 1
    return [zlib.crc32(gram.encode()) & mask for gram in grams]


def _tf(texts: Sequence[str]) -> sparse.csr_matrix:
    """Sublinear term frequencies, one row per text."""
    data: list[numpy.ndarray] = []
    indices: list[numpy.ndarray] = []
    indptr = [0]
    for text in texts:
        columns, counts = numpy.unique(numpy.array(_hashed_terms(text), dtype=numpy.int64), return_counts=True)
        indices.append(columns.astype(numpy.int32))
        data.append((1.0 + numpy.log(counts)).astype(numpy.float32))
        indptr.append(indptr[-1] + len(columns))
    return sparse.csr_matrix(
        (numpy.concatenate(data) if data else numpy.zeros(0, numpy.float32),
         numpy.concatenate(indices) if indices else numpy.zeros(0, numpy.int32), numpy.array(indptr)),
        shape=(len(texts), N_FEATURES),
    )


class DecisionMemory:
    """Labelled examples, searchable by similarity. Not thread-safe for `add`; `vote` is read-only.

    `add` learns one decision at once, weighted by the IDF of the last `build`; `build` (the
    constructor, loading, and `add` when the memory grew by REBUILD_GROWTH since the last one)
    weighs every example again by the memory's own IDF."""

    REBUILD_GROWTH = 0.1

    def __init__(self, examples: Iterable[LabelledExample] = (), *, version: str = "v0") -> None:
        self.version = version
        self._rows: list[sparse.csr_matrix] = []
        self.agency_ids: list[str] = []
        self.unit_ids: list[str | None] = []
        self.positive: list[bool] = []
        self._matrix: sparse.csc_matrix | None = None
        self._idf: numpy.ndarray | None = None
        self._built_n = 0
        self._pending: list[sparse.csr_matrix] = []  # added since the last build, weighted as of it
        self._pending_matrix: sparse.csr_matrix | None = None
        examples = list(examples)
        if examples:
            self._rows.append(_tf([e.text for e in examples]))
            for example in examples:
                self._label(example)
            self.build()

    def __len__(self) -> int:
        return len(self.agency_ids)

    def _label(self, example: LabelledExample) -> None:
        self.agency_ids.append(example.agency_id)
        self.unit_ids.append(example.unit_id)
        self.positive.append(example.positive)

    def add(self, example: LabelledExample) -> None:
        """Learn one more decision: it counts from the next `vote` on."""
        tf = _tf([example.text])
        self._rows.append(tf)
        self._label(example)
        if self._idf is None or len(self) > self._built_n * (1 + self.REBUILD_GROWTH):
            self.build()
        else:
            self._pending.append(_normalized_row(_weighted(tf, self._idf)))
            self._pending_matrix = None

    def build(self) -> None:
        """Weigh every example by the memory's own IDF and normalise (cheap: one pass over rows)."""
        self._pending, self._pending_matrix = [], None
        if not self._rows:
            self._matrix, self._idf, self._built_n = None, None, 0
            return
        if len(self._rows) > 1:
            self._rows = [sparse.vstack(self._rows, format="csr")]
        tf = self._rows[0]
        df = numpy.bincount(tf.indices, minlength=N_FEATURES).astype(numpy.float32)
        self._idf = numpy.log((1.0 + tf.shape[0]) / (1.0 + df)) + 1.0
        self._matrix = _normalized(_weighted(tf, self._idf)).tocsc()  # columns: a query's words
        self._built_n = tf.shape[0]

    def vote(self, text: str) -> Vote:
        vote = Vote()
        if self._matrix is None or self._idf is None:
            return vote
        query = _normalized_row(_weighted(_tf([text]), self._idf))
        similarities = self._matrix[:, query.indices] @ query.data
        if self._pending:
            if self._pending_matrix is None:
                self._pending_matrix = sparse.vstack(self._pending, format="csr")
            similarities = numpy.concatenate([similarities, self._pending_matrix @ query.T.toarray().ravel()])
        if not similarities.size:
            return vote
        k = min(NEIGHBOURS, similarities.size)
        nearest = numpy.argpartition(-similarities, k - 1)[:k]
        total = 0.0
        unit_totals: dict[str, float] = {}
        for i in nearest:
            s = float(similarities[i])
            if s < MIN_SIMILARITY:
                continue
            agency_id = self.agency_ids[i]
            if not self.positive[i]:
                vote.against[agency_id] = max(vote.against.get(agency_id, 0.0), s)
                continue
            total += s
            vote.agencies[agency_id] = vote.agencies.get(agency_id, 0.0) + s
            vote.agency_counts[agency_id] = vote.agency_counts.get(agency_id, 0) + 1
            unit_id = self.unit_ids[i]
            if unit_id and _agency_of(unit_id) == agency_id:
                unit_totals[agency_id] = unit_totals.get(agency_id, 0.0) + s
                vote.units[unit_id] = vote.units.get(unit_id, 0.0) + s
                vote.unit_counts[unit_id] = vote.unit_counts.get(unit_id, 0) + 1
        if total:
            vote.agencies = {a: s / total for a, s in vote.agencies.items()}
        for unit_id in vote.units:  # the share among the neighbours of its body that name a unit
            vote.units[unit_id] /= unit_totals[_agency_of(unit_id)]
        return vote

    # --- the stored artefact ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        if self._pending or len(self._rows) > 1:
            self.build()
        tf = self._rows[0] if self._rows else sparse.csr_matrix((0, N_FEATURES), dtype=numpy.float32)
        buffer = io.BytesIO()
        numpy.savez_compressed(
            buffer,
            data=tf.data.astype(numpy.float32),
            indices=tf.indices.astype(numpy.int32),
            indptr=tf.indptr.astype(numpy.int64),
            agency_ids=numpy.array(self.agency_ids, dtype=str),
            unit_ids=numpy.array([u or "" for u in self.unit_ids], dtype=str),
            positive=numpy.array(self.positive, dtype=bool),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, *, version: str) -> DecisionMemory:
        memory = cls(version=version)
        with numpy.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            n = len(arrays["agency_ids"])
            memory._rows = [sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n, N_FEATURES))]
            memory.agency_ids = [str(a) for a in arrays["agency_ids"]]
            memory.unit_ids = [str(u) or None for u in arrays["unit_ids"]]
            memory.positive = [bool(p) for p in arrays["positive"]]
        if n:
            memory.build()
        return memory


def _agency_of(unit_id: str) -> str:
    return unit_id.split("/", 1)[0]


def _weighted(tf: sparse.csr_matrix, idf: numpy.ndarray) -> sparse.csr_matrix:
    weighted = tf.copy()
    weighted.data = weighted.data * idf[weighted.indices]
    return weighted


def _normalized_row(row: sparse.csr_matrix) -> sparse.csr_matrix:
    norm = float(numpy.sqrt((row.data**2).sum()))
    if norm:
        row.data = row.data / norm
    return row


def _normalized(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    squared = matrix.copy()
    squared.data = squared.data**2
    norms = numpy.sqrt(numpy.asarray(squared.sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms).dot(matrix).tocsr()
