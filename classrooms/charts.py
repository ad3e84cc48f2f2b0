"""Charts drawn on the server as SVG: no JavaScript, no CDN; each has a title, a description and a data table.

The functions are pure: plain data in, an SVG string (safe to embed) out.
"""

from collections import Counter
from datetime import timedelta

from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


def _frame(chart_id, title, description, body):
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
        f"{body}</svg>"
    )


def _y_axis(max_value, suffix=""):
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = max_value * i / 4
        y = TOP + plot_h - plot_h * i / 4
        label = f"{value:.0f}{suffix}"
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="chart-label" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    return "".join(parts)


def completion_series(read_dates, *, start, end, members, lessons):
    """[(date, percent of lessons read by the class)] per day from start to end.

    `read_dates`: the dates lessons were read, or a {date: lessons read that day} mapping.
    """
    if start > end:
        start = end
    per_day = Counter(read_dates)
    capacity = members * lessons
    series, done, day = [], sum(n for d, n in per_day.items() if d < start), start
    while day <= end:
        done += per_day.get(day, 0)
        series.append((day, 100 * done / capacity if capacity else 0.0))
        day += timedelta(days=1)
    return series


def line_chart(series, *, chart_id, title, description):
    """A line of (date, percent) points, 0..100 % on the y axis."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(series)
    points = []
    for i, (_day, value) in enumerate(series):
        x = LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        y = TOP + plot_h - plot_h * min(value, 100) / 100
        points.append(f"{x:.1f},{y:.1f}")
    body = _y_axis(100, " %")
    if points:
        body += f'<polyline class="chart-line" fill="none" points="{" ".join(points)}"/>'
        body += "".join(f'<circle class="chart-dot" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5"/>' for p in points[-1:])
        labels = [(0, series[0][0])] + ([(n - 1, series[-1][0])] if n > 1 else [])
        for i, day in labels:
            x = LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
            anchor = "start" if i == 0 and n > 1 else "end" if i else "middle"
            body += f'<text class="chart-label" x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="{anchor}">{day.isoformat()}</text>'
    return _frame(chart_id, title, description, body)


def histogram(values, *, bins=10):
    """Counts of values in [0, 1] over `bins` equal bins (1.0 falls in the last): [(low %, high %, count)]."""
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, max(0, int(value * bins)))] += 1
    return [(round(100 * i / bins), round(100 * (i + 1) / bins), count) for i, count in enumerate(counts)]


def bar_chart(buckets, *, chart_id, title, description):
    """Bars of [(low %, high %, count)]."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([count for _, _, count in buckets] + [1])
    top = max(4, top + (-top) % 4)  # a round scale: multiples of 4 give whole-number gridlines
    width = plot_w / max(len(buckets), 1)
    body = _y_axis(top)
    for i, (low, high, count) in enumerate(buckets):
        h = plot_h * count / top
        x = LEFT + i * width
        body += format_html(
            '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
            f"{x + 2:.1f}", f"{TOP + plot_h - h:.1f}", f"{width - 4:.1f}", f"{h:.1f}",
            _("%(low)s–%(high)s %%: %(count)s") % {"low": low, "high": high, "count": count},
        )
        body += f'<text class="chart-label" x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{low}</text>'
    body += f'<text class="chart-label" x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end">{escape(_("score (%)"))}</text>'
    return _frame(chart_id, title, description, body)
