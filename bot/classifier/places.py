"""Districts: from names and aliases in the text (with inflections), or from a Telegram location.

Text first: "на левом берегу", "Сарыаркинском районе", "Есіл ауданында" and "Saryarqa" all resolve
through `PhraseMatcher`. A location falls back to point-in-polygon over the district polygons given
as GeoJSON (pure Python: a handful of polygons with a few hundred vertices each).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.classifier.matching import PhraseMatcher
from bot.config import DistrictConfig

__all__ = ["DistrictFinder", "Ring", "load_district_geojson", "point_in_rings"]

# A closed ring of (longitude, latitude) points, as GeoJSON orders them.
Ring = list[tuple[float, float]]


class DistrictFinder:
    """Finds the district a message is about; read-only after construction, so thread-safe."""

    def __init__(
        self,
        districts: Sequence[DistrictConfig],
        polygons: Mapping[str, Sequence[Sequence[tuple[float, float]]]] | None = None,
    ) -> None:
        phrases: list[tuple[str, str, bool]] = []
        for district in districts:
            names = [district.name.ru, district.name.kk, district.name.en, *district.aliases]
            # district names are proper nouns: the same in every script, so they always cross over
            phrases.extend((name, district.id, True) for name in names if name.strip())
        self._matcher = PhraseMatcher(phrases)
        known = {d.id for d in districts}
        self._polygons = {
            district_id: [list(ring) for ring in rings]
            for district_id, rings in (polygons or {}).items()
            if district_id in known or not known
        }

    def from_text(self, words: Sequence[str]) -> str | None:
        """The first district named in the normalised words, or None."""
        found = self._matcher.find(words)
        return found[0] if found else None

    def from_location(self, latitude: float | None, longitude: float | None) -> str | None:
        """The district whose polygon contains the point, or None."""
        if latitude is None or longitude is None:
            return None
        for district_id, rings in self._polygons.items():
            if point_in_rings(longitude, latitude, rings):
                return district_id
        return None


def point_in_rings(x: float, y: float, rings: Sequence[Sequence[tuple[float, float]]]) -> bool:
    """Even-odd rule over all rings: inside an outer ring and not inside one of its holes."""
    inside = False
    for ring in rings:
        count = len(ring)
        if count < 3:
            continue
        j = count - 1
        for i in range(count):
            xi, yi = ring[i]
            xj, yj = ring[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
    return inside


def _rings(geometry: object) -> list[Ring]:
    if not isinstance(geometry, dict):
        raise ValueError("a feature's geometry must be an object")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        polygons = coordinates if isinstance(coordinates, list) else []
    else:
        raise ValueError(f"unsupported geometry type {kind!r}; use Polygon or MultiPolygon")
    rings: list[Ring] = []
    for polygon in polygons:
        if not isinstance(polygon, list):
            raise ValueError("polygon coordinates must be lists of rings")
        for ring in polygon:
            if not isinstance(ring, list):
                raise ValueError("a ring must be a list of [longitude, latitude] points")
            rings.append([(float(point[0]), float(point[1])) for point in ring])
    return rings


def load_district_geojson(path: str | Path) -> dict[str, list[Ring]]:
    """District id → rings, from a GeoJSON FeatureCollection whose features have properties.id."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection")
    result: dict[str, list[Ring]] = {}
    for position, feature in enumerate(data.get("features") or []):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        district_id = properties.get("id") if isinstance(properties, dict) else None
        if not isinstance(district_id, str) or not district_id:
            raise ValueError(f"{path}: feature {position} has no string properties.id")
        try:
            result.setdefault(district_id, []).extend(_rings(feature.get("geometry")))
        except (ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"{path}: feature {position} ({district_id}): {exc}") from None
    return result
