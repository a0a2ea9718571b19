"""The ScheduledWorkflow controller of KFP 2.17.0, simulated on a virtual clock (test-only).

Written from reading kubeflow/pipelines at tag 2.17.0 (commit 4a3592cb2dd0a91a4652ab93893ec8beda1f3158);
each rule names the file and function it follows. No upstream code is copied. Time only moves
when a test calls `FakeKfpServer.advance(...)`: nothing sleeps.

    crd = backend/src/crd/controller/scheduledworkflow
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

NEVER = 2**63 - 1  # math.MaxInt64: "no next schedule" (periodic_schedule.go: getNextScheduledEpoch)

_MONTHS = {n: i + 1 for i, n in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {n: i for i, n in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_BOUNDS = ((0, 59, {}), (0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = {"@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
                "@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@midnight": "0 0 0 * * *",
                "@hourly": "0 0 * * * *"}


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Cron:
    """robfig/cron v1 (the parser KFP's apiserver and controller import as `cron.Parse`):
    5 or 6 fields, `second minute hour dom month [dow]` (a missing 6th field is `*`, so a 5-field
    crontab line is read with seconds first), or a descriptor. Day of month and day of week:
    either matches when both are restricted, both must when one is `*`."""

    sets: tuple[frozenset[int], ...]
    dom_star: bool
    dow_star: bool

    @classmethod
    def parse(cls, spec: str) -> "Cron":
        text = spec.strip()
        if text.startswith("@"):
            if text not in _DESCRIPTORS:
                raise CronError(f"Unrecognized descriptor: {text}")
            text = _DESCRIPTORS[text]
        fields = text.split()
        if len(fields) not in (5, 6):
            raise CronError(f"Expected 5 or 6 fields, found {len(fields)}: {spec}")
        if len(fields) == 5:
            fields.append("*")
        sets = tuple(_field(value, *bounds) for value, bounds in zip(fields, _BOUNDS, strict=True))
        return cls(sets, fields[3] in ("*", "?"), fields[5] in ("*", "?"))

    def _day_matches(self, moment: datetime) -> bool:
        dom = moment.day in self.sets[3]
        dow = (moment.isoweekday() % 7) in self.sets[5]
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next(self, after: datetime) -> datetime:
        """The first matching second strictly after `after` (robfig SpecSchedule.Next)."""
        moment = after.replace(microsecond=0) + timedelta(seconds=1)
        limit = moment + timedelta(days=366 * 5)
        seconds, minutes, hours, _, months, _ = self.sets
        while moment < limit:
            if moment.month not in months:
                year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
                moment = moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
            elif not self._day_matches(moment):
                moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0)
            elif moment.hour not in hours:
                moment = (moment + timedelta(hours=1)).replace(minute=0, second=0)
            elif moment.minute not in minutes:
                moment = (moment + timedelta(minutes=1)).replace(second=0)
            elif moment.second not in seconds:
                moment += timedelta(seconds=1)
            else:
                return moment
        return datetime.max.replace(tzinfo=timezone.utc)


def _field(value: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    found: set[int] = set()
    for part in value.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step <= 0:
                raise CronError(f"step must be positive: {value}")
        if part in ("*", "?"):
            start, end = low, high
        else:
            bounds = [names.get(token.upper()) if not token.isdigit() else int(token) for token in part.split("-")]
            if any(bound is None for bound in bounds) or len(bounds) > 2:
                raise CronError(f"Failed to parse {value!r}")
            start, end = bounds[0], bounds[-1] if len(bounds) == 2 or step == 1 else high
            if start < low or end > high or start > end:
                raise CronError(f"value out of range ({low} - {high}): {value}")
        found.update(range(start, end + 1, step))
    return frozenset(found)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


@dataclass
class Schedule:
    """The trigger part of a ScheduledWorkflow spec, and its status LastTriggeredTime."""

    cron: str | None
    interval: int | None
    start: int | None  # epoch seconds
    end: int | None
    catchup: bool
    created: int
    last_triggered: int | None = None

    def next_epoch(self, now: int) -> int:
        """crd/util/scheduled_workflow.go: getNextScheduledEpoch (catchup = !NoCatchup)."""
        if self.interval is not None:
            return self._periodic(now)
        return self._cron(now)

    def _periodic(self, now: int) -> int:
        # crd/util/periodic_schedule.go: GetNextScheduledEpoch / getNextScheduledEpoch /
        # GetNextScheduledEpochNoCatchup. Last trigger, else start_time, else creation.
        last = self.last_triggered if self.last_triggered is not None else (
            self.start if self.start is not None else self.created)
        if self.start is not None and self.start > last:
            nxt = self.start
        else:
            nxt = last + self.interval
            if self.end is not None and self.end < nxt:
                return NEVER
        if self.catchup or nxt == NEVER:
            return nxt
        if now >= nxt + self.interval:  # cannot catch up: fire now (or at end_time)
            return self.end if self.end is not None and self.end < now else now
        return nxt

    def _cron(self, now: int) -> int:
        # crd/util/cron_schedule.go: getEffectiveLastJobTime, getNextScheduledTimeImp.
        schedule = Cron.parse(self.cron or "")
        last = self.last_triggered if self.last_triggered is not None else (
            self.start if self.start is not None else self.created)
        begin = max(last, self.start) if self.start is not None else last
        result = _epoch(schedule.next(_utc(begin)))
        end = self.end if self.end is not None else NEVER
        if end < result:
            return NEVER
        if self.catchup:
            return result
        nxt = result
        while True:  # no catchup: the latest slot not after now (and not after end_time)
            after = _epoch(schedule.next(_utc(nxt)))
            if after <= now and after <= end:
                nxt = after
            else:
                return nxt


def should_fire(schedule: Schedule, enabled: bool, active: int, max_concurrency: int, now: int) -> tuple[int, bool]:
    """crd/util/scheduled_workflow.go: GetNextScheduledEpoch -> (next epoch, fire now?)."""
    nxt = schedule.next_epoch(now)
    if not enabled or active >= max_concurrency or nxt > now:
        return nxt, False
    return nxt, True
