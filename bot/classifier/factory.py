"""Building the classifier: load the cached model, or train it and cache it.

The cache key is a hash of the corpus, the corrections (if any), the scikit-learn version, the
feature version, the lexicon and the heads' hyper-parameters: change any of them and the model is
retrained, once. Training takes seconds and runs at start-up in a thread (`bot.app.runtime` calls
`build_classifier` through `asyncio.to_thread`); loading a cached model takes well under a second and
does not import scikit-learn.

`shagym train` writes a model that also learnt from the staff's reroutings and records it in
`active.json`; `build_classifier` prefers that model as long as it was trained on the current corpus
with the current code (otherwise the corpus-only model is loaded or trained again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bot.classifier.corpus import CORPUS_DIR, Example, corpus_hash, load_corpus, split_corpus
from bot.classifier.engine import DistrictPolygons, ModelClassifier
from bot.classifier.features import FEATURE_VERSION, Analyzer
from bot.classifier.language import word_lists_digest
from bot.classifier.lexicon import load_concepts
from bot.classifier.model import TrainedModel
from bot.config import Config

__all__ = [
    "LoadedModel",
    "build_classifier",
    "corrections_hash",
    "load_or_train",
    "model_key",
]

log = logging.getLogger(__name__)

ACTIVE_FILE = "active.json"
_lock = threading.Lock()


def _version(distribution: str) -> str:
    # the distribution's metadata, not an import: loading a cached model must stay fast
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "missing"


def _sklearn_version() -> str:
    return _version("scikit-learn")


# The language resources the features read: a new dictionary or vector release changes the features.
RESOURCES = ("pymorphy3", "pymorphy3-dicts-ru", "snowballstemmer", "natasha")


def corrections_hash(corrections: Iterable[object]) -> str:
    """SHA-256 of the corrections, in order (empty string when there are none)."""
    items = [repr(c) for c in corrections]
    if not items:
        return ""
    return hashlib.sha256("\n".join(items).encode("utf-8")).hexdigest()


def model_key(corpus: str, corrections: str = "", without: Iterable[str] = ()) -> str:
    """The cache key of a model trained on a corpus (and corrections) by this code."""
    from bot.classifier.train import COMPLAINT_THRESHOLD, HEADS, URGENT_THRESHOLD

    parts = {
        "corpus": corpus,
        "corrections": corrections,
        "sklearn": _sklearn_version(),
        "features": FEATURE_VERSION,
        "lexicon": hashlib.sha256(json.dumps(load_concepts(), sort_keys=True).encode()).hexdigest(),
        "words": word_lists_digest(),
        "heads": repr(sorted(HEADS.items())),
        "urgent_threshold": URGENT_THRESHOLD,
        "complaint_threshold": COMPLAINT_THRESHOLD,
        "resources": {name: _version(name) for name in RESOURCES},
    }
    dropped = sorted(set(without))
    if dropped:  # an ablation model (shagym eval --ablation); the bot's model keeps its key
        parts["without"] = dropped
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A model and where it came from."""

    model: TrainedModel
    path: Path
    from_cache: bool


def _model_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"classifier-{key}.npz"


def _try_load(path: Path) -> TrainedModel | None:
    try:
        return TrainedModel.load(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # damaged: retrain
        log.warning("ignoring unreadable model cache %s: %s", path, exc)
        return None


def load_or_train(
    cache_dir: Path,
    *,
    examples: Sequence[Example] | None = None,
    corrections: Sequence[object] = (),
    training: Sequence[Example] | None = None,
    force: bool = False,
    corpus_dir: Path = CORPUS_DIR,
    without: Iterable[str] = (),
    on_trained: Callable[[Path], object] | None = None,
) -> LoadedModel:
    """The model for this corpus (+ corrections): from the cache, or trained on the training split and cached.

    `training` is the training set when corrections are applied (the caller merged them); by default
    it is the corpus' training split. force=True retrains even when a cached model exists. `without`
    names feature blocks to leave out (the ablation models `shagym eval --ablation` compares).
    `on_trained` is called with the model's path whenever a model is trained.
    """
    examples = list(examples) if examples is not None else load_corpus(corpus_dir)
    c_hash = corpus_hash(examples)
    without = tuple(sorted(set(without)))
    key = model_key(c_hash, corrections_hash(corrections), without)
    path = _model_path(cache_dir, key)
    with _lock:  # two threads building at once train once
        if not force:
            cached = _try_load(path)
            if cached is not None:
                return LoadedModel(cached, path, from_cache=True)
        from bot.classifier.train import train_model

        rows = list(training) if training is not None else split_corpus(examples)[0]
        model = train_model(
            rows,
            analyzer=Analyzer(),
            meta={"key": key, "corpus_hash": c_hash, "corrections": len(corrections)},
            without=without,
        )
        if on_trained is not None:
            on_trained(path)
        try:
            model.save(path)
        except OSError as exc:  # a read-only disk costs start-up time, not the service
            log.warning("could not write the model cache %s: %s", path, exc)
        return LoadedModel(model, path, from_cache=False)


def set_active(cache_dir: Path, corpus: str, path: Path) -> None:
    """Make the model at `path` (trained with corrections) the one the bot loads for this corpus."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / ACTIVE_FILE
    temporary = cache_dir / f".{ACTIVE_FILE}.tmp"
    temporary.write_text(json.dumps({"corpus_key": model_key(corpus), "model": path.name}), encoding="utf-8")
    temporary.replace(target)


def _active_model(cache_dir: Path, corpus: str) -> LoadedModel | None:
    try:
        data = json.loads((cache_dir / ACTIVE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("corpus_key") != model_key(corpus):
        return None  # trained on another corpus or by other code: stale
    name = data.get("model")
    if not isinstance(name, str) or "/" in name or "\\" in name:
        return None
    path = cache_dir / name
    model = _try_load(path)
    return LoadedModel(model, path, from_cache=True) if model is not None else None


def load_model(
    cache_dir: Path, *, corpus_dir: Path = CORPUS_DIR, on_trained: Callable[[Path], object] | None = None
) -> LoadedModel:
    """The model the bot should use: the active corrected model if current, else the corpus model."""
    examples = load_corpus(corpus_dir)
    active = _active_model(cache_dir, corpus_hash(examples))
    if active is not None:
        return active
    return load_or_train(cache_dir, examples=examples, corpus_dir=corpus_dir, on_trained=on_trained)


def build_classifier(
    config: Config,
    *,
    cache_dir: Path | None = None,
    district_polygons: DistrictPolygons | None = None,
    on_trained: Callable[[Path], object] | None = None,
) -> ModelClassifier:
    """The model classifier for `config`: loads the cached model or trains one (seconds; run it in a thread).

    cache_dir defaults to the config's `classifier.cache_dir`. district_polygons (see
    `load_district_geojson`) map Telegram locations to districts. `on_trained` is called with the model's
    path if a model had to be trained.
    """
    directory = cache_dir if cache_dir is not None else config.classifier.cache_dir
    loaded = load_model(directory, on_trained=on_trained)
    classifier = ModelClassifier(loaded.model, config, district_polygons=district_polygons)
    classifier.from_cache = loaded.from_cache
    classifier.model_path = loaded.path
    return classifier
