"""Locale formatting, message catalogs and SVG charts of the web UI."""

from __future__ import annotations

import datetime as dt
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2
import pytest
from babel.messages.pofile import read_po

from crmcore.web.charts import bar_chart, donut_chart, stacked_bar_chart
from crmcore.web.i18n import (
    CORE_LOCALE_DIR,
    SUPPORTED_LANGUAGES,
    CatalogError,
    format_date,
    format_day_of_month,
    format_number,
    format_percent,
    gregorian_month_grid,
    install_jinja_i18n,
    jalali_month_grid,
    load_translations,
    register_locale_filters,
    text_direction,
    to_persian_digits,
)

SVG = "{http://www.w3.org/2000/svg}"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")


def read_catalog(lang: str):
    with (CORE_LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        return read_po(po_file, locale=lang, abort_invalid=True)


def catalog_keys(catalog) -> set[tuple[str | None, str]]:
    """(context, singular msgid) of every message, leaving out the header."""
    return {
        (message.context, message.id if isinstance(message.id, str) else message.id[0])
        for message in catalog
        if message.id
    }


def write_po(locale_dir: Path, lang: str, body: str) -> Path:
    po_path = locale_dir / lang / "LC_MESSAGES" / "messages.po"
    po_path.parent.mkdir(parents=True, exist_ok=True)
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    po_path.write_text(header + body, encoding="utf-8")
    return po_path


def bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [el for el in root.iter(f"{SVG}rect") if "chart-bar" in el.get("class", "")]


# --- digits and numbers -------------------------------------------------------------------


def test_persian_digits_replace_latin_and_arabic_indic_digits() -> None:
    assert to_persian_digits("0123456789") == "۰۱۲۳۴۵۶۷۸۹"
    assert to_persian_digits("٣٤") == "۳۴"
    assert to_persian_digits("1405/09/01") == "۱۴۰۵/۰۹/۰۱"


def test_persian_digits_convert_separators_only_inside_numbers() -> None:
    assert to_persian_digits("1,234.5") == "۱٬۲۳۴٫۵"
    assert to_persian_digits("40%") == "۴۰٪"
    assert to_persian_digits("Done, 3 left.") == "Done, ۳ left."


def test_numbers_are_grouped_and_persian_gets_persian_digits() -> None:
    assert format_number(1234567, "en") == "1,234,567"
    assert format_number(1234.5, "en") == "1,234.5"
    assert format_number(1234567, "fa") == "۱٬۲۳۴٬۵۶۷"
    assert format_number(0.25, "fa") == "۰٫۲۵"
    assert format_percent(0.4, "en") == "40%"
    assert format_percent(0.4, "fa") == "۴۰٪"


# --- dates --------------------------------------------------------------------------------


def test_persian_dates_use_the_jalali_calendar() -> None:
    day = dt.date(2026, 11, 22)
    assert format_date(day, "fa") == "۱۴۰۵/۰۹/۰۱"
    assert format_date(day, "fa", style="long") == "۱ آذر ۱۴۰۵"
    assert format_day_of_month(day, "fa") == "۱"


def test_english_dates_are_iso_or_day_month_year() -> None:
    day = dt.date(2026, 11, 22)
    assert format_date(day, "en") == "2026-11-22"
    assert format_date(day, "en", style="long") == "22 Nov 2026"
    assert format_day_of_month(day, "en") == "22"


def test_timestamps_move_to_the_users_timezone_before_the_day_is_taken() -> None:
    stored = dt.datetime(2026, 3, 20, 22, 0)  # naive values from the database are UTC
    assert format_date(stored, "en") == "2026-03-20"
    assert format_date(stored, "en", tz="Asia/Tehran") == "2026-03-21"
    assert format_date(stored, "en", tz="Asia/Tehran", with_time=True) == "2026-03-21 01:30"
    # Nowruz: the next day in Tehran is the first day of the Jalali year.
    assert format_date(stored, "fa", tz="Asia/Tehran", with_time=True) == "۱۴۰۵/۰۱/۰۱ ۰۱:۳۰"


def test_aware_and_naive_utc_timestamps_render_the_same() -> None:
    naive = dt.datetime(2026, 11, 22, 20, 45)
    aware = naive.replace(tzinfo=dt.UTC)
    for lang in SUPPORTED_LANGUAGES:
        assert format_date(naive, lang, "Asia/Tehran", with_time=True) == format_date(
            aware, lang, "Asia/Tehran", with_time=True
        )


def test_plain_dates_are_not_shifted_by_timezone() -> None:
    assert format_date(dt.date(2026, 1, 1), "en", tz="Pacific/Kiritimati") == "2026-01-01"


# --- month grids --------------------------------------------------------------------------


def _assert_whole_month(weeks: list[list[dt.date | None]], first: dt.date, after: dt.date) -> None:
    assert all(len(week) == 7 for week in weeks)
    days = [cell for week in weeks for cell in week if cell is not None]
    expected = [first + dt.timedelta(days=i) for i in range((after - first).days)]
    assert days == expected
    assert first in weeks[0] and expected[-1] in weeks[-1]


@pytest.mark.parametrize(
    ("year", "month", "length"),
    [(1405, 1, 31), (1405, 9, 30), (1403, 12, 30), (1404, 12, 29)],
)
def test_jalali_grid_holds_each_day_once_in_weeks_from_saturday(
    year: int, month: int, length: int
) -> None:
    grid = jalali_month_grid(year, month)
    days = [cell for week in grid.weeks for cell in week if cell is not None]
    assert len(days) == length
    _assert_whole_month(grid.weeks, days[0], days[-1] + dt.timedelta(days=1))
    saturday = 5
    for week in grid.weeks:
        for column, cell in enumerate(week):
            if cell is not None:
                assert (cell.weekday() - saturday) % 7 == column
    assert grid.weekday_names[0] == "شنبه"


def test_jalali_grid_is_titled_in_persian_and_starts_on_the_right_day() -> None:
    grid = jalali_month_grid(1405, 9)
    assert grid.title == "آذر ۱۴۰۵"
    assert grid.weeks[0][:2] == [None, dt.date(2026, 11, 22)]  # 1 Azar 1405 is a Sunday


@pytest.mark.parametrize(("year", "month"), [(2026, 11), (2028, 2), (2026, 12), (2027, 2)])
def test_gregorian_grid_holds_each_day_once_in_weeks_from_monday(year: int, month: int) -> None:
    grid = gregorian_month_grid(year, month)
    first = dt.date(year, month, 1)
    after = dt.date(year + month // 12, month % 12 + 1, 1)
    _assert_whole_month(grid.weeks, first, after)
    for week in grid.weeks:
        for column, cell in enumerate(week):
            if cell is not None:
                assert cell.weekday() == column
    assert grid.weekday_names[0] == "Mon"


def test_month_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="between 1 and 12"):
        gregorian_month_grid(2026, 13)


# --- catalogs -----------------------------------------------------------------------------


def test_text_direction_follows_the_language() -> None:
    assert text_direction("fa") == "rtl"
    assert text_direction("en") == "ltr"
    assert text_direction("not-a-language") == "ltr"


def test_persian_catalog_translates_every_english_message() -> None:
    english, persian = read_catalog("en"), read_catalog("fa")
    assert len(catalog_keys(english)) >= 120
    assert catalog_keys(english) <= catalog_keys(persian)
    for message in persian:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"no Persian text for {message.id!r}"
        assert not message.fuzzy, f"fuzzy Persian text for {message.id!r}"


def test_persian_translations_keep_every_placeholder() -> None:
    for message in read_catalog("fa"):
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source))


def test_core_catalog_loads_with_contexts_and_plurals() -> None:
    persian = load_translations("fa", [CORE_LOCALE_DIR])
    assert persian.gettext("Contacts") == "مخاطبان"
    assert persian.gettext("Done") == "انجام شد"
    assert persian.pgettext("task status", "Done") == "انجام\u200cشده"
    assert persian.ngettext("%(num)s contact", "%(num)s contacts", 3) == "%(num)s مخاطب"
    english = load_translations("en", [CORE_LOCALE_DIR])
    assert english.gettext("Contacts") == "Contacts"
    assert english.ngettext("%(num)s contact", "%(num)s contacts", 3) == "%(num)s contacts"


def test_plugin_catalogs_add_messages_on_top_of_the_core(tmp_path: Path) -> None:
    plugin_locale = tmp_path / "locale"
    write_po(
        plugin_locale,
        "fa",
        'msgid "Projects"\nmsgstr "پروژه‌ها"\n\nmsgid "Save"\nmsgstr "ثبت"\n',
    )
    merged = load_translations("fa", [CORE_LOCALE_DIR, plugin_locale, tmp_path / "missing"])
    assert merged.gettext("Projects") == "پروژه‌ها"
    assert merged.gettext("Save") == "ثبت"
    assert merged.gettext("Contacts") == "مخاطبان"
    assert load_translations("fa", [CORE_LOCALE_DIR]).gettext("Save") == "ذخیره"


def test_edited_catalog_is_picked_up_on_next_load(tmp_path: Path) -> None:
    po_path = write_po(tmp_path, "fa", 'msgid "Deals"\nmsgstr "معامله‌ها"\n')
    assert load_translations("fa", [tmp_path]).gettext("Deals") == "معامله‌ها"
    write_po(tmp_path, "fa", 'msgid "Deals"\nmsgstr "فرصت‌های فروش"\n')
    stat = po_path.stat()
    os.utime(po_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_translations("fa", [tmp_path]).gettext("Deals") == "فرصت‌های فروش"


def test_broken_catalog_error_names_the_file(tmp_path: Path) -> None:
    po_path = write_po(tmp_path, "fa", 'msgid "Deals"\nmsgstr "Deals"\n\nmsgid "Orphan"\n')
    with pytest.raises(CatalogError, match=re.escape(str(po_path.resolve()))) as error:
        load_translations("fa", [tmp_path])
    assert "Orphan" in str(error.value)


def test_language_code_is_checked_before_it_becomes_a_path() -> None:
    with pytest.raises(ValueError, match="language code"):
        load_translations("../../etc", [CORE_LOCALE_DIR])
    with pytest.raises(ValueError, match="language code"):
        load_translations("fa\n", [CORE_LOCALE_DIR])


# --- jinja --------------------------------------------------------------------------------


PAGE = (
    "{% trans %}Contacts{% endtrans %}|{{ _('Signed in as %(email)s', email=email) }}|"
    "{% trans num=n %}{{ num }} contact{% pluralize %}{{ num }} contacts{% endtrans %}|"
    "{{ pgettext('lifecycle stage', 'Customer') }}|"
    "{{ when|date }}|{{ when|datetime('long') }}|{{ total|number }}|{{ 'Page 2'|digits }}|"
    "{{ none|date }}"
)


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True)
    register_locale_filters(env)
    return env


def test_jinja_templates_render_persian() -> None:
    env = make_env()
    install_jinja_i18n(env, load_translations("fa", [CORE_LOCALE_DIR]))
    rendered = env.from_string(PAGE).render(
        lang="fa",
        tz="Asia/Tehran",
        email="<a@example.com>",
        n=2,
        when=dt.datetime(2026, 3, 20, 22, 0, tzinfo=dt.UTC),
        total=12500,
        none=None,
    )
    assert rendered.split("|") == [
        "مخاطبان",
        "وارد\u200cشده با &lt;a@example.com&gt;",
        "2 مخاطب",
        "مشتری",
        "۱۴۰۵/۰۱/۰۱",
        "۱ فروردین ۱۴۰۵، ۰۱:۳۰",
        "۱۲٬۵۰۰",
        "Page ۲",
        "",
    ]


def test_one_environment_serves_each_request_in_its_own_language() -> None:
    env = make_env()
    install_jinja_i18n(
        env, {lang: load_translations(lang, [CORE_LOCALE_DIR]) for lang in SUPPORTED_LANGUAGES}
    )
    template = env.from_string("{{ _('Tasks') }} {{ total|number }}")
    assert template.render(lang="fa", total=1000) == "کارها ۱٬۰۰۰"
    assert template.render(lang="en", total=1000) == "Tasks 1,000"
    assert template.render(lang="fa_IR", total=1) == "کارها ۱"


# --- charts -------------------------------------------------------------------------------


def test_bar_chart_draws_one_bar_per_value_in_wellformed_svg() -> None:
    svg = bar_chart(["Lead", "Prospect", "Customer", "Churned"], [12, 7, 23, 0], "By stage")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert len(bars(svg)) == 4
    assert root.get("viewBox", "").startswith("0 0 ")
    assert root.get("width") == "100%"


def test_charts_are_labelled_for_screen_readers() -> None:
    for svg in (
        bar_chart(["Lead"], [3], "Contacts by stage"),
        stacked_bar_chart(["W1"], {"Email": [2]}, "Contacts by stage"),
        donut_chart(["Lead"], [3], "Contacts by stage"),
    ):
        root = ET.fromstring(svg)
        assert root.get("role") == "img"
        assert root.get("aria-label") == "Contacts by stage"
        assert root.find(f"{SVG}title").text == "Contacts by stage"
        assert root.find(f"{SVG}desc").text in ("W1: Email 2", "Lead: 3", "Lead: 3 (100%)")


def test_labels_and_titles_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    for svg in (
        bar_chart([hostile], [1], hostile),
        stacked_bar_chart([hostile], {hostile: [1]}, hostile),
        donut_chart([hostile, "b"], [1, 2], hostile),
    ):
        assert "<script>" not in svg
        assert "&lt;script&gt;" in svg
        root = ET.fromstring(svg)
        assert not list(root.iter("script")) and not list(root.iter(f"{SVG}script"))
        assert root.get("aria-label") == hostile


def test_stacked_chart_draws_a_segment_per_nonzero_value_and_a_legend() -> None:
    weeks = ["W1", "W2", "W3"]
    series = {"Email": [3, 0, 2], "Phone": [1, 2, 2], "Meeting": [0, 0, 1]}
    svg = stacked_bar_chart(weeks, series, "Interactions per week by channel")
    assert len(bars(svg)) == 6
    root = ET.fromstring(svg)
    legend = [el.text for el in root.iter(f"{SVG}text") if el.get("class") == "chart-legend"]
    assert legend == ["Email", "Phone", "Meeting"]
    email_colours = {el.get("class") for el in bars(svg) if "Email" in el[0].text}
    assert email_colours == {"chart-bar chart-c1"}


def test_donut_chart_draws_a_slice_per_nonzero_value() -> None:
    svg = donut_chart(["Lead", "Prospect", "Customer"], [2, 0, 6], "By stage")
    root = ET.fromstring(svg)
    slices = [el for el in root.iter(f"{SVG}path") if "chart-slice" in el.get("class", "")]
    assert len(slices) == 2
    assert "Customer: 6 (75%)" in root.find(f"{SVG}desc").text
    whole = ET.fromstring(donut_chart(["Lead"], [5], "All leads"))
    assert [el.get("fill-rule") for el in whole.iter(f"{SVG}path")] == ["evenodd"]


def test_persian_charts_use_persian_digits_and_run_from_the_right() -> None:
    ltr = ET.fromstring(bar_chart(["a"], [10], "t"))
    rtl_svg = bar_chart(["سرنخ"], [10], "t", lang="fa")
    rtl = ET.fromstring(rtl_svg)
    assert rtl.get("direction") == "rtl"
    assert ltr.get("direction") == "ltr"
    width = float(rtl.get("viewBox").split()[2])
    (ltr_bar,), (rtl_bar,) = bars(bar_chart(["a"], [10], "t")), bars(rtl_svg)
    ltr_start = float(ltr_bar.get("x"))
    rtl_end = float(rtl_bar.get("x")) + float(rtl_bar.get("width"))
    assert rtl_end == pytest.approx(width - ltr_start)
    assert rtl_end > width / 2
    values = [el.text for el in rtl.iter(f"{SVG}text") if el.get("class") == "chart-value"]
    assert values == ["۱۰"]
    assert not re.search(r"[0-9]", "".join(rtl.itertext()))


def test_charts_refuse_data_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="2 labels but 1 values"):
        bar_chart(["a", "b"], [1], "t")
    with pytest.raises(ValueError, match="'Email'"):
        stacked_bar_chart(["W1", "W2"], {"Email": [1]}, "t")
    with pytest.raises(ValueError, match=">= 0"):
        donut_chart(["a"], [-1], "t")


def test_empty_charts_still_render() -> None:
    for svg in (bar_chart([], [], "t"), stacked_bar_chart([], {}, "t"), donut_chart([], [], "t")):
        ET.fromstring(svg)
