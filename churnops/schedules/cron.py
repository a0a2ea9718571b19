"""KFP's cron dialect (robfig/cron): six fields, seconds first.

KFP's parser also accepts five fields, but reads them as *seconds* minutes hours day month
(day-of-week optional), so a standard crontab line `0 3 * * 1` would silently fire every
hour of every day in January. We accept exactly six fields (or a named descriptor) and say so.
"""

from __future__ import annotations

import re

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
MONTHS = {name: i + 1 for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
# (name, low, high, names, `?` allowed)
FIELDS = (
    ("seconds", 0, 59, {}, False),
    ("minutes", 0, 59, {}, False),
    ("hours", 0, 23, {}, False),
    ("day of month", 1, 31, {}, True),
    ("month", 1, 12, MONTHS, False),
    ("day of week", 0, 6, DAYS, True),
)
PART = re.compile(r"^(?P<range>\*|[A-Za-z0-9]+(-[A-Za-z0-9]+)?)(/(?P<step>[0-9]+))?$")


def cron_problem(expression: str) -> str | None:
    """None when `expression` is valid KFP cron, else what is wrong and how to fix it."""
    text = expression.strip()
    if text.startswith("@"):
        if text in DESCRIPTORS:
            return None
        if text.startswith("@every"):
            return "use `interval_seconds:` instead of @every"
        return f"unknown descriptor {text!r}; use one of {', '.join(DESCRIPTORS)} or six fields"
    fields = text.split()
    if len(fields) == 5:
        return (f"{expression!r} has 5 fields; KFP cron has 6, seconds first "
                f"(KFP would read it as seconds..month): write '0 {text}'")
    if len(fields) != 6:
        return f"{expression!r} has {len(fields)} fields; KFP cron has 6: seconds minutes hours day-of-month month day-of-week"
    for value, (name, low, high, names, question) in zip(fields, FIELDS, strict=True):
        problem = _field_problem(value, low, high, names, question)
        if problem:
            return f"{name} field {value!r}: {problem}"
    return None


def _field_problem(value: str, low: int, high: int, names: dict[str, int], question: bool) -> str | None:
    if value == "?":
        return None if question else "'?' is only allowed in day-of-month and day-of-week"
    for part in value.split(","):
        match = PART.match(part)
        if not match:
            return f"cannot read {part!r} (use *, N, N-M, */S, N-M/S or lists with commas)"
        if match.group("step") is not None and int(match.group("step")) == 0:
            return "a step of 0 never fires"
        if match.group("range") == "*":
            continue
        bounds = []
        for token in match.group("range").split("-"):
            number = names.get(token.upper()) if not token.isdigit() else int(token)
            if number is None:
                return f"{token!r} is not a number" + (f" or one of {', '.join(names)}" if names else "")
            if not low <= number <= high:
                return f"{number} is outside {low}-{high}"
            bounds.append(number)
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            return f"range {part!r} runs backwards"
    return None
