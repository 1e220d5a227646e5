"""The dashboard's charts as inline SVG, and the same figures as HTML tables. Pure functions.

Every chart is `<svg role="img">` named by its `<title>` and `<desc>` (which states the figures in
words), drawn in viewBox units so it scales to the page, with its legend and axis labels, in
system fonts, without scripts. Colours are Okabe and Ito's colour-blind-safe palette; neighbouring
stacks differ in lightness (CIE L* 46 to 89) and the lightest are hatched, so greyscale prints
still tell them apart. Every text that comes from data or from the caller's labels is escaped
here (`_el`): an agency called `<script>` is drawn as those characters.

Texts come from a mapping of label keys (`LABEL_KEYS`) that the portal translates; keys it does
not give fall back to `LABELS_ID`. `LABELS_EN` has the English ones. The status names are the
portal's own (`status.<value>` in portal/i18n.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from portal.dashboard import DashboardData
from portal.i18n import TEXTS
from domain.enums import Status


def _status_names(language: str) -> dict[str, str]:
    """The portal's names of the statuses (portal/i18n.py), under the same keys."""
    return {f"status.{status.value}": TEXTS[language][f"status.{status.value}"] for status in Status}


LABELS_ID: dict[str, str] = {
    **_status_names("id"),
    "dashboard.no_data": "Belum ada data.",
    "dashboard.decimal_mark": ",",
    "dashboard.thousands_sep": ".",
    "dashboard.date_short": "%d/%m",
    "dashboard.date_long": "%d/%m/%Y",
    "dashboard.percent": "{value} %",
    "dashboard.hours": "{value} jam",
    "dashboard.date": "Tanggal",
    "dashboard.total": "Jumlah",
    "dashboard.agency": "Instansi",
    "dashboard.agency_cases": "{name} ({count} laporan)",
    "dashboard.agency_cases.one": "{name} (1 laporan)",
    "dashboard.status.title": "Laporan per status",
    "dashboard.status.desc": "Jumlah laporan pada setiap status di akhir setiap hari (WIB), {start} sampai {end}. "
    "Pada {end}: {summary}.",
    "dashboard.status.x_axis": "Tanggal (WIB)",
    "dashboard.status.y_axis": "Jumlah laporan",
    "dashboard.status.caption": "Laporan per status di akhir setiap hari (WIB)",
    "dashboard.on_time.title": "Ketepatan waktu tanggapan pertama per instansi",
    "dashboard.on_time.desc": "Bagian laporan yang tanggapan pertamanya datang sebelum batas waktu, {start} sampai "
    "{end}; laporan yang belum ditanggapi setelah batas waktunya dihitung terlambat. {summary}.",
    "dashboard.on_time.axis": "Bagian laporan (%)",
    "dashboard.on_time.on_time": "Tepat waktu",
    "dashboard.on_time.answered_late": "Ditanggapi terlambat",
    "dashboard.on_time.unanswered_past_due": "Belum ditanggapi, lewat batas waktu",
    "dashboard.on_time.rate": "Tepat waktu (%)",
    "dashboard.on_time.considered": "Laporan dihitung",
    "dashboard.first_response.title": "Median waktu tanggapan pertama per instansi",
    "dashboard.first_response.desc": "Median jam dari penerusan pertama ke instansi sampai tindak lanjut pertamanya, "
    "{start} sampai {end}. {summary}.",
    "dashboard.first_response.axis": "Jam",
    "dashboard.first_response.legend": "Median tanggapan pertama (jam)",
    "dashboard.first_response.none": "belum ada tanggapan",
    "dashboard.performance.caption": "Tanggapan pertama per instansi, {start} sampai {end}",
    "dashboard.overdue.title": "Laporan terbuka yang melewati batas waktu per instansi",
    "dashboard.overdue.desc": "Laporan terbuka yang batas waktunya terlewati pada {end}: {total}, {without_agency} "
    "di antaranya belum di instansi. {summary}.",
    "dashboard.overdue.axis": "Jumlah laporan",
    "dashboard.overdue.legend": "Laporan terbuka melewati batas waktu",
    "dashboard.overdue.without_agency": "Belum di instansi (verifikasi atau dialihkan)",
    "dashboard.overdue.none": "Tidak ada laporan terbuka yang melewati batas waktu.",
    "dashboard.overdue.caption": "Laporan terbuka yang melewati batas waktu per instansi",
    "open_data.title": "Ketepatan waktu: {name}",
    "open_data.desc": "Per bulan, bagian laporan yang diterima instansi ini yang diteruskan dan yang ditanggapi "
    "pertama kali tepat waktu. {summary}.",
    "open_data.forwarded": "Diteruskan tepat waktu",
    "open_data.first_response": "Tanggapan pertama tepat waktu",
    "open_data.late": "Tidak tepat waktu",
    "open_data.withheld": "tidak diterbitkan",
    "open_data.month": "Bulan",
    "open_data.received": "Diterima",
    "open_data.caption": "{name}: laporan yang diterima dan bagian yang tepat waktu per bulan",
}

LABELS_EN: dict[str, str] = {
    **_status_names("en"),
    "dashboard.no_data": "No data yet.",
    "dashboard.decimal_mark": ".",
    "dashboard.thousands_sep": ",",
    "dashboard.date_short": "%d/%m",
    "dashboard.date_long": "%d/%m/%Y",
    "dashboard.percent": "{value}%",
    "dashboard.hours": "{value} h",
    "dashboard.date": "Date",
    "dashboard.total": "Total",
    "dashboard.agency": "Agency",
    "dashboard.agency_cases": "{name} ({count} cases)",
    "dashboard.agency_cases.one": "{name} (1 case)",
    "dashboard.status.title": "Cases per status",
    "dashboard.status.desc": "Number of cases in each status at the end of each day (WIB), {start} to {end}. "
    "On {end}: {summary}.",
    "dashboard.status.x_axis": "Date (WIB)",
    "dashboard.status.y_axis": "Cases",
    "dashboard.status.caption": "Cases per status at the end of each day (WIB)",
    "dashboard.on_time.title": "First responses on time per agency",
    "dashboard.on_time.desc": "Share of cases whose first response came by the deadline, {start} to {end}; cases "
    "still unanswered past their deadline count as late. {summary}.",
    "dashboard.on_time.axis": "Share of cases (%)",
    "dashboard.on_time.on_time": "On time",
    "dashboard.on_time.answered_late": "Answered late",
    "dashboard.on_time.unanswered_past_due": "Unanswered, past the deadline",
    "dashboard.on_time.rate": "On time (%)",
    "dashboard.on_time.considered": "Cases counted",
    "dashboard.first_response.title": "Median first response per agency",
    "dashboard.first_response.desc": "Median hours from the first forwarding to the agency to its first follow-up, "
    "{start} to {end}. {summary}.",
    "dashboard.first_response.axis": "Hours",
    "dashboard.first_response.legend": "Median first response (hours)",
    "dashboard.first_response.none": "no response yet",
    "dashboard.performance.caption": "First responses per agency, {start} to {end}",
    "dashboard.overdue.title": "Open cases past their deadline per agency",
    "dashboard.overdue.desc": "Open cases past a deadline on {end}: {total}, {without_agency} of them not with an "
    "agency. {summary}.",
    "dashboard.overdue.axis": "Cases",
    "dashboard.overdue.legend": "Open cases past their deadline",
    "dashboard.overdue.without_agency": "Not with an agency (verification or re-routing)",
    "dashboard.overdue.none": "No open case is past its deadline.",
    "dashboard.overdue.caption": "Open cases past their deadline per agency",
    "open_data.title": "On time: {name}",
    "open_data.desc": "Per month, the share of the cases this body received that were forwarded and first "
    "answered on time. {summary}.",
    "open_data.forwarded": "Forwarded on time",
    "open_data.first_response": "First response on time",
    "open_data.late": "Not on time",
    "open_data.withheld": "not published",
    "open_data.month": "Month",
    "open_data.received": "Received",
    "open_data.caption": "{name}: cases received and the share on time per month",
}

LABEL_KEYS: tuple[str, ...] = tuple(LABELS_ID)
Labels = Mapping[str, str] | None  # label key → text; missing keys fall back to LABELS_ID

INK = "#1a1a1a"
GRID = "#d0d0d0"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
WIDTH = 400  # viewBox units; 12-unit text stays about 11 px on a 360 px wide phone
LABEL_LIMIT = 56  # characters of an agency name drawn; the whole name is the bar's tooltip

# (colour, hatched): Okabe-Ito. Stacks in dashboard.STATUS_ORDER have L* 58, 76, 46, 71, 89, 54.
STATUS_FILLS: dict[Status, tuple[str, bool]] = {
    Status.COMPLETED: ("#009E73", False),
    Status.ARCHIVED: ("#BBBBBB", True),
    Status.AWAITING_REPORTER: ("#0072B2", False),
    Status.AWAITING_AGENCY: ("#E69F00", False),
    Status.ON_HOLD: ("#F0E442", True),
    Status.AWAITING_VERIFICATION: ("#D55E00", False),
}
ON_TIME_FILLS = {"on_time": ("#0072B2", False), "answered_late": ("#E69F00", False),
                 "unanswered_past_due": ("#D55E00", True)}
FIRST_RESPONSE_FILL = ("#0072B2", False)
OVERDUE_FILL = ("#D55E00", False)


@dataclass(frozen=True)
class DashboardFigures:
    """Every chart with its table, ready for a template: `{{ figures.status_chart }}`."""

    status_chart: Markup
    status_table: Markup
    on_time_chart: Markup
    first_response_chart: Markup
    performance_table: Markup
    overdue_chart: Markup
    overdue_table: Markup


def render_dashboard(
    data: DashboardData, labels: Labels = None, *, id_prefix: str = "dashboard"
) -> DashboardFigures:
    return DashboardFigures(
        status_chart=status_chart(data, labels, id_prefix=f"{id_prefix}-status"),
        status_table=status_table(data, labels),
        on_time_chart=on_time_chart(data, labels, id_prefix=f"{id_prefix}-on-time"),
        first_response_chart=first_response_chart(data, labels, id_prefix=f"{id_prefix}-first-response"),
        performance_table=performance_table(data, labels),
        overdue_chart=overdue_chart(data, labels, id_prefix=f"{id_prefix}-overdue"),
        overdue_table=overdue_table(data, labels),
    )


# --- texts ----------------------------------------------------------------------------------


class _Texts:
    """The caller's labels over the Indonesian defaults, with the number and date formats."""

    def __init__(self, labels: Labels) -> None:
        self.labels = {**LABELS_ID, **(labels or {})}

    def __call__(self, key: str, **values: object) -> str:
        text = self.labels.get(key, key)
        return text.format_map(_Blanks(values)) if values else text

    def number(self, value: float, decimals: int = 0) -> str:
        plain = f"{value:,.{decimals}f}"
        return plain.translate({ord(","): "\0", ord("."): self("dashboard.decimal_mark")}).replace(
            "\0", self("dashboard.thousands_sep")
        )

    def percent(self, share: float) -> str:
        return self("dashboard.percent", value=self.number(share * 100, 1))

    def hours(self, value: float) -> str:
        return self("dashboard.hours", value=self.number(value, 1))

    def day(self, value: date, *, short: bool = False) -> str:
        return value.strftime(self("dashboard.date_short" if short else "dashboard.date_long"))

    def status(self, status: Status) -> str:
        return self(f"status.{status.value}")

    def window(self, data: DashboardData) -> dict[str, str]:
        return {"start": self.day(data.status_by_day[0].day), "end": self.day(data.status_by_day[-1].day)}


class _Blanks(dict[str, object]):
    """A translated text naming a field the code does not give keeps it as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


# --- SVG building blocks -----------------------------------------------------------------------


def _el(tag: str, *children: object, **attributes: object) -> Markup:
    """An element whose attribute values and text children are escaped (Markup children are not).

    `class_` is written `class`, other underscores become dashes (`text_anchor` → text-anchor).
    """
    written = "".join(
        f' {_attribute_name(name)}="{escape(_fmt(value))}"' for name, value in attributes.items() if value is not None
    )
    if not children:
        return Markup(f"<{tag}{written}/>")
    return Markup(f"<{tag}{written}>{''.join(escape(child) for child in children)}</{tag}>")


def _attribute_name(name: str) -> str:
    return name.rstrip("_") if name.endswith("_") else name.replace("_", "-")


def _fmt(value: object) -> object:
    return f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else value


def _svg(prefix: str, title: str, desc: str, height: float, *body: Markup, patterns: Sequence[str] = ()) -> Markup:
    defs = [_hatch(prefix, colour) for colour in patterns]
    return _el(
        "svg",
        _el("title", title, id=f"{prefix}-title"),
        _el("desc", desc, id=f"{prefix}-desc"),
        *([_el("defs", *defs)] if defs else []),
        *body,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {_fmt(float(height))}",
        width="100%",
        role="img",
        aria_labelledby=f"{prefix}-title {prefix}-desc",
        font_family=FONT,
        font_size=12,
        fill=INK,
        class_="sp4n-chart",
    )


def _hatch(prefix: str, colour: str) -> Markup:
    """Diagonal dark lines over a colour, so a hatched stack differs from its neighbours in grey."""
    return _el(
        "pattern",
        _el("rect", width=6, height=6, fill=colour),
        _el("path", d="M0,6 L6,0", stroke=INK, stroke_width=1, stroke_opacity=0.55),
        id=_pattern_id(prefix, colour),
        width=6,
        height=6,
        patternUnits="userSpaceOnUse",
    )


def _pattern_id(prefix: str, colour: str) -> str:
    return f"{prefix}-hatch-{colour.lstrip('#').lower()}"


def _paint(prefix: str, fill: tuple[str, bool]) -> str:
    colour, hatched = fill
    return f"url(#{_pattern_id(prefix, colour)})" if hatched else colour


def _hatched(fills: Sequence[tuple[str, bool]]) -> list[str]:
    return list(dict.fromkeys(colour for colour, hatched in fills if hatched))


def _legend(prefix: str, entries: Sequence[tuple[str, tuple[str, bool]]], y: float, columns: int) -> list[Markup]:
    column_width = (WIDTH - 16) / columns
    items = []
    for index, (text, fill) in enumerate(entries):
        x, row_y = 8 + (index % columns) * column_width, y + (index // columns) * 18
        items.append(
            _el(
                "g",
                _el("rect", x=x, y=row_y, width=12, height=12, fill=_paint(prefix, fill), stroke=INK, stroke_width=0.5),
                _el("text", text, x=x + 18, y=row_y + 10, font_size=11),
            )
        )
    return items


def _legend_height(count: int, columns: int) -> float:
    return math.ceil(count / columns) * 18


def _nice_ticks(maximum: float, *, integers: bool) -> list[float]:
    """0 and about five round steps (1, 2 or 5 × 10^n) up to at least `maximum`."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if integers:
        step = max(1, round(step))
    count = math.ceil(maximum / step - 1e-9)
    return [index * step for index in range(count + 1)]


def _no_data(prefix: str, title: str, message: str) -> Markup:
    return _svg(prefix, title, message, 60, _el("text", message, x=WIDTH / 2, y=34, text_anchor="middle"))


def _shorten(text: str, limit: int = LABEL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- the charts ----------------------------------------------------------------------------------


def status_chart(data: DashboardData, labels: Labels = None, *, id_prefix: str = "status") -> Markup:
    """Stacked bars: the cases in each status at the end of each day (WIB), oldest day left."""
    t = _Texts(labels)
    title = t("dashboard.status.title")
    days = data.status_by_day
    if not days or not any(day.total for day in days):
        return _no_data(id_prefix, title, t("dashboard.no_data"))
    last = days[-1]
    summary = "; ".join(
        f"{t.status(status)} {t.number(last.counts.get(status, 0))}" for status in reversed(data.statuses)
    )
    desc = t("dashboard.status.desc", **t.window(data), summary=summary)
    ticks = _nice_ticks(max(day.total for day in days), integers=True)
    tick_text = [t.number(tick) for tick in ticks]
    left, right, top, plot_height = 28 + 7 * max(len(text) for text in tick_text), 20, 10, 200
    plot_width = WIDTH - left - right
    scale = plot_height / ticks[-1]
    bottom = top + plot_height
    body: list[Markup] = []
    for tick, text in zip(ticks, tick_text, strict=True):
        y = bottom - tick * scale
        body.append(_el("line", x1=left, x2=WIDTH - right, y1=y, y2=y, stroke=GRID, stroke_width=1))
        body.append(_el("text", text, x=left - 6, y=y + 4, text_anchor="end"))
    slot = plot_width / len(days)
    bar = min(slot * 0.8, 40)
    label_every = math.ceil(len(days) / 7)
    for index, day in enumerate(days):
        x = left + index * slot + (slot - bar) / 2
        y = bottom
        segments = []
        for status in data.statuses:
            count = day.counts.get(status, 0)
            if count <= 0:
                continue
            height = count * scale
            y -= height
            segments.append(
                _el("rect", _el("title", f"{t.day(day.day)} · {t.status(status)}: {t.number(count)}"),
                    x=x, y=y, width=bar, height=height, fill=_paint(id_prefix, STATUS_FILLS[status]),
                    stroke="#ffffff", stroke_width=0.5)
            )
        body.append(_el("g", *segments) if segments else Markup())
        if (len(days) - 1 - index) % label_every == 0:
            body.append(_el("text", t.day(day.day, short=True), x=x + bar / 2, y=bottom + 16, text_anchor="middle"))
    body.append(_el("line", x1=left, x2=WIDTH - right, y1=bottom, y2=bottom, stroke=INK, stroke_width=1))
    body.append(_el("text", t("dashboard.status.x_axis"), x=left + plot_width / 2, y=bottom + 34,
                    text_anchor="middle"))
    body.append(_el("text", t("dashboard.status.y_axis"), x=14, y=top + plot_height / 2, text_anchor="middle",
                    transform=f"rotate(-90 14 {_fmt(top + plot_height / 2)})"))
    legend_entries = [(t.status(status), STATUS_FILLS[status]) for status in reversed(data.statuses)]
    legend_top, columns = bottom + 48, 2 if max(len(text) for text, _ in legend_entries) <= 26 else 1
    body.extend(_legend(id_prefix, legend_entries, legend_top, columns))
    height = legend_top + _legend_height(len(legend_entries), columns) + 4
    return _svg(id_prefix, title, desc, height, *body, patterns=_hatched([STATUS_FILLS[s] for s in data.statuses]))


@dataclass(frozen=True)
class _Row:
    """One agency's bar: a label, stacked segments (value, fill) and the text after the bar."""

    label: str
    tooltip: str
    segments: list[tuple[float, tuple[str, bool]]]
    value_text: str


def _bar_chart(
    prefix: str,
    title: str,
    desc: str,
    rows: Sequence[_Row],
    ticks: Sequence[float],
    tick_text: list[str],
    axis_label: str,
    legend: Sequence[tuple[str, tuple[str, bool]]],
) -> Markup:
    """Horizontal bars, one agency a row (its name above its bar, for narrow screens)."""
    left, bar_right = 8, WIDTH - 84
    scale = (bar_right - left) / ticks[-1]
    legend_rows = _legend_height(len(legend), 1)
    top = legend_rows + 10
    row_height = 36
    bottom = top + row_height * len(rows)
    body: list[Markup] = list(_legend(prefix, legend, 4, 1))
    for tick, text in zip(ticks, tick_text, strict=True):
        x = left + tick * scale
        body.append(_el("line", x1=x, x2=x, y1=top, y2=bottom, stroke=GRID, stroke_width=1))
        body.append(_el("text", text, x=x, y=bottom + 16, text_anchor="middle"))
    for index, row in enumerate(rows):
        y = top + index * row_height
        x = left
        parts: list[Markup] = [_el("title", row.tooltip), _el("text", row.label, x=left, y=y + 13)]
        for value, fill in row.segments:
            if value > 0:
                parts.append(_el("rect", x=x, y=y + 18, width=value * scale, height=14, fill=_paint(prefix, fill),
                                 stroke="#ffffff", stroke_width=0.5))
                x += value * scale
        parts.append(_el("text", row.value_text, x=x + 6, y=y + 29))
        body.append(_el("g", *parts))
    body.append(_el("line", x1=left, x2=left, y1=top, y2=bottom, stroke=INK, stroke_width=1))
    body.append(_el("text", axis_label, x=left + (bar_right - left) / 2, y=bottom + 34, text_anchor="middle"))
    return _svg(prefix, title, desc, bottom + 42, *body, patterns=_hatched([fill for _, fill in legend]))


def on_time_chart(data: DashboardData, labels: Labels = None, *, id_prefix: str = "on-time") -> Markup:
    """Per agency, a 0-100 % bar: on time, answered late, unanswered past the deadline."""
    t = _Texts(labels)
    title = t("dashboard.on_time.title")
    rows = [agency for agency in data.performance if agency.on_time_rate is not None]
    if not rows:
        return _no_data(id_prefix, title, t("dashboard.no_data"))
    kinds = list(ON_TIME_FILLS)
    summary = "; ".join(f"{agency.agency_name}: {t.percent(agency.on_time_rate or 0)}" for agency in rows)
    bars = [
        _Row(
            label=t("dashboard.agency_cases.one" if agency.considered == 1 else "dashboard.agency_cases",
                    name=_shorten(agency.agency_name, LABEL_LIMIT - 16), count=t.number(agency.considered)),
            tooltip=f"{agency.agency_name}: " + ", ".join(
                f"{t('dashboard.on_time.' + kind)} {t.number(getattr(agency, kind))}" for kind in kinds
            ),
            segments=[(100 * getattr(agency, kind) / agency.considered, ON_TIME_FILLS[kind]) for kind in kinds],
            value_text=t.percent(agency.on_time_rate or 0),
        )
        for agency in rows
    ]
    ticks = [0, 25, 50, 75, 100]
    return _bar_chart(
        id_prefix, title, t("dashboard.on_time.desc", **t.window(data), summary=summary), bars, ticks,
        [t.number(tick) for tick in ticks], t("dashboard.on_time.axis"),
        [(t("dashboard.on_time." + kind), ON_TIME_FILLS[kind]) for kind in kinds],
    )


def first_response_chart(
    data: DashboardData, labels: Labels = None, *, id_prefix: str = "first-response"
) -> Markup:
    """Per agency, the median hours from the first forwarding to the first follow-up."""
    t = _Texts(labels)
    title = t("dashboard.first_response.title")
    rows = data.performance
    medians = [agency.median_first_response_hours for agency in rows if agency.median_first_response_hours is not None]
    if not medians:
        return _no_data(id_prefix, title, t("dashboard.no_data"))

    def shown(hours: float | None) -> str:
        return t("dashboard.first_response.none") if hours is None else t.hours(hours)

    summary = "; ".join(f"{agency.agency_name}: {shown(agency.median_first_response_hours)}" for agency in rows)
    ticks = _nice_ticks(max(medians), integers=False)
    # Enough decimals that the ticks differ (a median of minutes has ticks of 0.002 hours).
    decimals = next((d for d in range(0, 4) if len({round(tick, d) for tick in ticks}) == len(ticks)), 3)
    bars = [
        _Row(
            label=_shorten(agency.agency_name),
            tooltip=f"{agency.agency_name}: {shown(agency.median_first_response_hours)}",
            segments=[(agency.median_first_response_hours or 0, FIRST_RESPONSE_FILL)],
            value_text=shown(agency.median_first_response_hours),
        )
        for agency in rows
    ]
    return _bar_chart(
        id_prefix, title, t("dashboard.first_response.desc", **t.window(data), summary=summary), bars, ticks,
        [t.number(tick, decimals) for tick in ticks], t("dashboard.first_response.axis"),
        [(t("dashboard.first_response.legend"), FIRST_RESPONSE_FILL)],
    )


def overdue_chart(data: DashboardData, labels: Labels = None, *, id_prefix: str = "overdue") -> Markup:
    """Per agency, the open cases past a deadline now; those no agency holds last."""
    t = _Texts(labels)
    title = t("dashboard.overdue.title")
    entries = [(agency.agency_name, agency.overdue) for agency in data.overdue]
    if data.overdue_without_agency:
        entries.append((t("dashboard.overdue.without_agency"), data.overdue_without_agency))
    if not entries:
        return _no_data(id_prefix, title, t("dashboard.overdue.none"))
    summary = "; ".join(f"{name}: {t.number(count)}" for name, count in entries)
    desc = t("dashboard.overdue.desc", **t.window(data), total=t.number(data.overdue_total),
             without_agency=t.number(data.overdue_without_agency), summary=summary)
    ticks = _nice_ticks(max(count for _, count in entries), integers=True)
    bars = [
        _Row(label=_shorten(name), tooltip=f"{name}: {t.number(count)}", segments=[(count, OVERDUE_FILL)],
             value_text=t.number(count))
        for name, count in entries
    ]
    return _bar_chart(
        id_prefix, title, desc, bars, ticks, [t.number(tick) for tick in ticks], t("dashboard.overdue.axis"),
        [(t("dashboard.overdue.legend"), OVERDUE_FILL)],
    )


# --- the same figures as tables -------------------------------------------------------------------


def _table(caption: str, header: Sequence[str], rows: Sequence[Sequence[str]], footer: Sequence[str] = ()) -> Markup:
    """A plain table: the first cell of each row is its header; numbers right-aligned by CSS class."""

    def row(cells: Sequence[str]) -> Markup:
        return _el("tr", _el("th", cells[0], scope="row"), *(_el("td", cell, class_="num") for cell in cells[1:]))

    return _el(
        "table",
        _el("caption", caption),
        _el("thead", _el("tr", *(_el("th", cell, scope="col") for cell in header))),
        _el("tbody", *(row(cells) for cells in rows)),
        *([_el("tfoot", row(footer))] if footer else []),
        class_="sp4n-table",
    )


def status_table(data: DashboardData, labels: Labels = None) -> Markup:
    t = _Texts(labels)
    statuses = list(reversed(data.statuses))
    return _table(
        t("dashboard.status.caption"),
        [t("dashboard.date"), *(t.status(status) for status in statuses), t("dashboard.total")],
        [
            [t.day(day.day), *(t.number(day.counts.get(status, 0)) for status in statuses), t.number(day.total)]
            for day in data.status_by_day
        ],
    )


def performance_table(data: DashboardData, labels: Labels = None) -> Markup:
    t = _Texts(labels)
    return _table(
        t("dashboard.performance.caption", **t.window(data)),
        [t("dashboard.agency"), t("dashboard.on_time.considered"), t("dashboard.on_time.on_time"),
         t("dashboard.on_time.answered_late"), t("dashboard.on_time.unanswered_past_due"),
         t("dashboard.on_time.rate"), t("dashboard.first_response.legend")],
        [
            [agency.agency_name, t.number(agency.considered), t.number(agency.on_time), t.number(agency.answered_late),
             t.number(agency.unanswered_past_due),
             t.percent(agency.on_time_rate) if agency.on_time_rate is not None else "–",
             t.number(agency.median_first_response_hours, 1) if agency.median_first_response_hours is not None
             else t("dashboard.first_response.none")]
            for agency in data.performance
        ],
    )


def overdue_table(data: DashboardData, labels: Labels = None) -> Markup:
    t = _Texts(labels)
    rows = [[agency.agency_name, t.number(agency.overdue)] for agency in data.overdue]
    if data.overdue_without_agency:
        rows.append([t("dashboard.overdue.without_agency"), t.number(data.overdue_without_agency)])
    return _table(
        t("dashboard.overdue.caption"),
        [t("dashboard.agency"), t("dashboard.overdue.legend")],
        rows,
        footer=[t("dashboard.total"), t.number(data.overdue_total)],
    )



# --- open data: each body's on-time rates per month (portal/open_data.py) -------------------------

LATE_FILL = ("#E69F00", True)


@dataclass(frozen=True)
class MonthRates:
    """One month of a body's published row: `received` as published ("<5" included), each share
    0..1 only where its count and `received` are both published."""

    month: str  # YYYY-MM
    received: int | str
    forwarded: float | None
    first_response: float | None


_RATE_KINDS = ("forwarded", "first_response")


def on_time_rates_chart(name: str, months: Sequence[MonthRates], labels: Labels = None, *, id_prefix: str) -> Markup:
    """Two bars a month, 0-100 %: forwarded on time and first response on time (the rest hatched);
    a share that is not published is said so, with no bar."""
    t = _Texts(labels)
    title = t("open_data.title", name=name)
    if not months:
        return _no_data(id_prefix, title, t("dashboard.no_data"))

    def shown(share: float | None) -> str:
        return t.percent(share) if share is not None else t("open_data.withheld")

    rows, summary = [], []
    for month in months:
        for kind in _RATE_KINDS:
            share = getattr(month, kind)
            label = f"{month.month} · {t('open_data.' + kind)}"
            rows.append(_Row(label=label, tooltip=f"{label}: {shown(share)}",
                             segments=[] if share is None else [(100 * share, ON_TIME_FILLS["on_time"]),
                                                                (100 - 100 * share, LATE_FILL)],
                             value_text=shown(share)))
        summary.append(f"{month.month}: " + ", ".join(
            f"{t('open_data.' + kind).lower()} {shown(getattr(month, kind))}" for kind in _RATE_KINDS))
    ticks = [0, 25, 50, 75, 100]
    return _bar_chart(
        id_prefix, title, t("open_data.desc", summary="; ".join(summary)), rows, ticks,
        [t.number(tick) for tick in ticks], t("dashboard.on_time.axis"),
        [(t("dashboard.on_time.on_time"), ON_TIME_FILLS["on_time"]), (t("open_data.late"), LATE_FILL)],
    )


def on_time_rates_table(name: str, months: Sequence[MonthRates], labels: Labels = None) -> Markup:
    t = _Texts(labels)

    def count(value: int | str) -> str:
        return t.number(value) if isinstance(value, int) else value

    def share(value: float | None) -> str:
        return t.percent(value) if value is not None else t("open_data.withheld")

    return _table(
        t("open_data.caption", name=name),
        [t("open_data.month"), t("open_data.received"), t("open_data.forwarded"), t("open_data.first_response")],
        [[month.month, count(month.received), share(month.forwarded), share(month.first_response)]
         for month in months],
    )
