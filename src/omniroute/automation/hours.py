"""Business hours: when a pool next opens, and how to say it to the customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from omniroute.routing.policy import BusinessHours

DAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "ko": ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"),
    "ja": ("月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日", "日曜日"),
    "zh": ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}


def is_open(hours: BusinessHours | None, at: datetime) -> bool:
    """Whether ``hours`` are open at ``at`` (no hours: always open)."""
    return hours is None or hours.is_open(at.timestamp())


def next_opening(hours: BusinessHours, at: datetime) -> datetime | None:
    """The next instant (in the hours' time zone) the pool opens after ``at``; None if never."""
    zone = ZoneInfo(hours.timezone)
    local = at.astimezone(zone)
    minute_now = local.hour * 60 + local.minute
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        for start, _end in sorted(hours.weekly.get(day.weekday(), ())):
            if offset == 0 and start <= minute_now:
                continue
            return datetime(day.year, day.month, day.day, start // 60, start % 60, tzinfo=zone)
    return None


def describe_opening(opening: datetime | None, at: datetime, language: str) -> str:
    """``Monday 09:00`` / ``월요일 09:00``, or today's/tomorrow's time alone."""
    if opening is None:
        return {"ko": "추후", "ja": "後ほど", "zh": "稍后", "es": "más adelante"}.get(
            language, "later")
    local_now = at.astimezone(opening.tzinfo or UTC)
    clock = opening.strftime("%H:%M")
    days = (opening.date() - local_now.date()).days
    if days == 0:
        return {"ko": f"오늘 {clock}", "ja": f"本日 {clock}", "zh": f"今天 {clock}",
                "es": f"hoy a las {clock}"}.get(language, f"today at {clock}")
    if days == 1:
        return {"ko": f"내일 {clock}", "ja": f"明日 {clock}", "zh": f"明天 {clock}",
                "es": f"mañana a las {clock}"}.get(language, f"tomorrow at {clock}")
    name = DAY_NAMES.get(language, DAY_NAMES["en"])[opening.weekday()]
    return f"{name} {clock}"
