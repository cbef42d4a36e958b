"""Charts drawn on the server as inline SVG (no JavaScript): this module computes the geometry,
web/templates/web/money/_chart.html draws it. Values stay integers (micro-units) until they are
placed on the page; only coordinates are decimals."""

from dataclasses import dataclass

from django.utils.dateformat import format as date_format

from payouts.models import MICRO_PER_CENT, MICRO_PER_UNIT
from payouts.selectors import CurrencyMonths
from web.amounts import micros_text

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 92, 8, 14, 44  # room for the value axis and the month labels
MAX_INTERVALS = 4  # gridlines above (and below) zero


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    centre: float  # of the month's label
    key: str  # "2026-03"
    month: str  # "Mar"
    year: str  # "2026" under the first month and each January, else ""
    title: str  # "March 2026: 7.00 USD"
    value: int  # micro-units
    negative: bool


@dataclass(frozen=True)
class Tick:
    y: float
    text: str
    zero: bool


@dataclass(frozen=True)
class BarChart:
    currency: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    tick_x: int  # where the value labels end
    month_y: int
    year_y: int
    bars: list[Bar]
    ticks: list[Tick]
    summary: str  # one sentence for the chart's description


def _nice_step(span: int) -> int:
    """The smallest of 1, 2, 5 x 10^n micro-units (at least one cent) that divides `span` into
    at most MAX_INTERVALS intervals."""
    raw = max(-(-span // MAX_INTERVALS), MICRO_PER_CENT)
    magnitude = 10 ** (len(str(raw)) - 1)
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    raise AssertionError("unreachable")


def monthly_bar_chart(series: CurrencyMonths) -> BarChart:
    """A bar per month of `series`, on a value axis with round gridlines that always includes
    zero (a month with more refunds than sales goes below it)."""
    values = [m.earned for m in series.months]
    high, low = max(0, *values), min(0, *values)
    if high == low:
        high = MICRO_PER_UNIT  # nothing earned: an axis from 0 to 1.00
    step = _nice_step(high - low)
    top = -(-high // step) * step
    bottom = (low // step) * step
    plot_height = HEIGHT - TOP - BOTTOM
    plot_width = WIDTH - LEFT - RIGHT

    def y(value: int) -> float:
        return round(TOP + (top - value) * plot_height / (top - bottom), 1)

    slot = plot_width / len(values)
    bars = []
    for index, month in enumerate(series.months):
        x = LEFT + index * slot
        upper, lower = y(max(month.earned, 0)), y(min(month.earned, 0))
        shown = date_format(month.month, "F Y")
        bars.append(
            Bar(
                x=round(x + slot * 0.2, 1),
                y=upper,
                width=round(slot * 0.6, 1),
                height=round(lower - upper, 1),
                centre=round(x + slot / 2, 1),
                key=month.month.strftime("%Y-%m"),
                month=date_format(month.month, "M"),
                year=str(month.month.year) if index == 0 or month.month.month == 1 else "",
                title=f"{shown}: {micros_text(month.earned, series.currency)}",
                value=month.earned,
                negative=month.earned < 0,
            )
        )
    ticks = [
        Tick(y=y(value), text=micros_text(value), zero=value == 0)
        for value in range(bottom, top + 1, step)
    ]
    best = max(series.months, key=lambda m: m.earned)
    first, last = series.months[0].month, series.months[-1].month
    summary = (
        f"{date_format(first, 'F Y')} to {date_format(last, 'F Y')}: "
        f"{micros_text(series.total, series.currency)} in all"
        + (
            f"; the most in {date_format(best.month, 'F Y')} "
            f"({micros_text(best.earned, series.currency)})."
            if best.earned > 0
            else "."
        )
    )
    return BarChart(
        currency=series.currency,
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        tick_x=LEFT - 8,
        month_y=HEIGHT - BOTTOM + 16,
        year_y=HEIGHT - BOTTOM + 32,
        bars=bars,
        ticks=ticks,
        summary=summary,
    )
