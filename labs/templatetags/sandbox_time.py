from django import template

register = template.Library()


@register.filter
def minutes_seconds(seconds):
    """3599 -> "59 min 59 s", as static/js/lab.js writes it while it ticks (the page reads well before it does)."""
    try:
        seconds = max(0, int(seconds))
    except (TypeError, ValueError):
        return ""
    return f"{seconds // 60} min {seconds % 60:02d} s"
