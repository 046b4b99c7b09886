"""A report as one self-contained HTML file: inline SVG charts, no script, no network (pure).

Charts: headline KPI tiles, a time series (conversations as bars, median
first response as a line), a weekday x hour heatmap of conversations, and
the proactive → self-serve → bot → human funnel as a sankey diagram.
"""

from __future__ import annotations

from html import escape
from typing import Any

from omniroute.analytics.kpis import FUNNEL_ORDER

TILES = (("conversations", "n"), ("frt_median", "s"), ("frt_p90", "s"), ("queue_wait_mean", "s"),
         ("resolution_last_median", "s"), ("handle_time_mean", "s"), ("fcr_rate", "%"),
         ("csat", "%"), ("abandon_rate", "%"), ("missed", "n"), ("occupancy", "%"),
         ("concurrency", "x"), ("sla_breach_rate", "%"), ("bot_resolution_rate", "%"))
"""The headline KPIs and how each is shown; their names are in :data:`WORDS`."""
WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Support report", "scope": "Workspace {workspace}; grouped by {by}; times in "
        "{timezone}.", "all": "all", "nothing": "nothing", "total": "total", "none": "(none)",
        "over-time": "Conversations and first response over time",
        "busiest": "Busiest hours and days",
        "funnel": "Funnel: proactive → self-serve → bot → human",
        "proactive-count": "Proactive messages sent: {sent} · web chat prompts shown: {shown}",
        "by": "By {by}", "no-data": "No data in this period.",
        "no-conversations": "No conversations in this period.",
        "conversations-at": "{n} conversations",
        "days": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "tiles": {"conversations": "Conversations", "frt_median": "First response (median)",
                  "frt_p90": "First response p90", "queue_wait_mean": "Queue wait (mean)",
                  "resolution_last_median": "Resolution (median)",
                  "handle_time_mean": "Handle time (mean)", "fcr_rate": "FCR", "csat": "CSAT",
                  "abandon_rate": "Abandoned", "missed": "Missed", "occupancy": "Occupancy",
                  "concurrency": "Concurrency", "sla_breach_rate": "SLA breached",
                  "bot_resolution_rate": "Bot resolution"},
        "stages": {},
    },
    # a Korean supervisor read the whole report in English until 2026-12-07 (user run 43)
    "ko": {
        "title": "상담 리포트",
        "scope": "워크스페이스 {workspace}; 묶음 기준 {by}; 시간대 {timezone}.",
        "all": "전체", "nothing": "없음", "total": "전체", "none": "(없음)",
        "over-time": "기간별 상담 수와 첫 응답 시간", "busiest": "요일·시간대별 상담량",
        "funnel": "퍼널: 선제 연락 → 셀프서비스 → 봇 → 상담원",
        "proactive-count": "보낸 선제 메시지: {sent} · 웹채팅 안내 표시: {shown}",
        "by": "{by}별", "no-data": "이 기간에 데이터가 없습니다.",
        "no-conversations": "이 기간에 상담이 없습니다.", "conversations-at": "상담 {n}건",
        "days": ("월", "화", "수", "목", "금", "토", "일"),
        "tiles": {"conversations": "상담 수", "frt_median": "첫 응답 시간 (중앙값)",
                  "frt_p90": "첫 응답 시간 p90", "queue_wait_mean": "대기 시간 (평균)",
                  "resolution_last_median": "해결 시간 (중앙값)",
                  "handle_time_mean": "처리 시간 (평균)", "fcr_rate": "첫 상담 해결률 (FCR)",
                  "csat": "고객 만족도 (CSAT)", "abandon_rate": "포기율", "missed": "놓친 상담",
                  "occupancy": "점유율", "concurrency": "동시 상담 수",
                  "sla_breach_rate": "SLA 위반", "bot_resolution_rate": "봇 해결률"},
        "stages": {"proactive": "선제 연락", "inbound": "고객 문의", "self_serve": "셀프서비스",
                   "bot": "봇", "human": "상담원", "resolved_self_serve": "셀프서비스 해결",
                   "resolved_bot": "봇 해결", "resolved_human": "상담원 해결",
                   "resolved_other": "기타 해결", "abandoned": "포기", "open": "진행 중"},
    },
}
"""The report's words per language (``lang`` of the report API; English if unknown). Column
headers stay the metric names of the CSV and of docs/analytics.md."""
LANGUAGES = tuple(WORDS)
COLUMNS = ("conversations", "frt_median", "frt_p90", "frt_business_median", "queue_wait_mean",
           "next_reply_median", "resolution_first_median", "resolution_last_median",
           "chat_duration_mean", "handle_time_mean", "fcr_rate", "csat", "survey_response_rate",
           "abandon_rate", "missed", "sla_breach_rate", "bot_resolution_rate",
           "article_resolution_rate", "human_resolved_share", "transfers", "occupancy",
           "utilization", "concurrency", "agents_online", "agents_chatting")
STYLE = """body{font:14px system-ui,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}.tiles{display:flex;flex-wrap:wrap;gap:8px}
.tile{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:8px 12px;min-width:120px}
.tile b{display:block;font-size:20px}.tile span{color:#5b6478;font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:12px}td,th{border:1px solid #dde2ea;
padding:3px 6px;text-align:right}th{background:#eef1f6}
td:first-child,th:first-child{text-align:left}
svg text{font:11px system-ui,sans-serif;fill:#39414f}"""


def fmt(value: Any, unit: str = "") -> str:
    """A figure for people: percentages, seconds as m:ss, None as a dash."""
    if value is None:
        return "-"
    if unit == "%":
        return f"{100 * value:.1f}%"
    if unit == "s":
        return f"{value:.0f}s" if value < 120 else f"{value / 60:.1f}min"
    if unit == "x":
        return f"{value:.2f}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def unit_of(column: str) -> str:
    """How :func:`fmt` shows a KPI column."""
    if column.endswith(("_rate", "_share")) or column in ("csat", "occupancy", "utilization"):
        return "%"
    if column.endswith(("_mean", "_median", "_p90")) and column != "csat_mean_score":
        return "s"
    return ""


def series_svg(series: list[dict[str, Any]], width: int = 900, height: int = 220,
               words: dict[str, Any] = WORDS["en"]) -> str:
    """Bars of conversations per bucket, a line of median first response (right axis)."""
    if not series:
        return f"<p>{escape(words['no-data'])}</p>"
    n = len(series)
    top = max(1.0, *(s["conversations"] or 0 for s in series))
    frt_top = max(1.0, *(s["frt_median"] or 0 for s in series))
    step = (width - 100) / n  # bars from x 40 to width - 60: the FRT axis label's margin
    parts = [f'<svg role="img" aria-label="time series" width="{width}" height="{height + 30}">']
    points: list[tuple[float, float]] = []
    for i, s in enumerate(series):
        x = 40 + i * step
        h = (s["conversations"] or 0) / top * height
        parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{max(1.0, step - 2):.1f}" '
                     f'height="{h:.1f}" fill="#7aa6e0"><title>{escape(s["at"])}: '
                     f'{escape(words["conversations-at"].format(n=fmt(s["conversations"])))}'
                     "</title></rect>")
        if s["frt_median"] is not None:
            points.append((x + step / 2, height - s["frt_median"] / frt_top * height))
    parts.append(f'<text x="0" y="12">{fmt(top)}</text>')
    if points:  # (without a first response the right axis said "FRT 1s": a user run)
        # one point draws no line: a dot shows it (user run 55's week had one busy hour).
        # The label ends at the right edge: it began at width - 55 and "FRT 2.4min" lost its
        # last letter to the edge, over the last bar
        line = (f'<circle cx="{points[0][0]:.1f}" cy="{points[0][1]:.1f}" r="3" '
                'fill="#d9534f"/>' if len(points) == 1 else
                '<polyline points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                + '" fill="none" stroke="#d9534f" stroke-width="2"/>')
        parts.append(f'{line}<text x="{width - 2}" y="12" text-anchor="end" fill="#d9534f">'
                     f'FRT {fmt(frt_top, "s")}</text>')
    first, last = escape(series[0]["at"][:16]), escape(series[-1]["at"][:16])
    parts.append(f'<text x="40" y="{height + 20}">{first}</text>'
                 f'<text x="{40 + n * step:.1f}" y="{height + 20}" text-anchor="end">{last}</text>')
    return "".join(parts) + "</svg>"


def heatmap_svg(grid: list[list[float]], cell: int = 28,
                words: dict[str, Any] = WORDS["en"]) -> str:
    """Conversations by weekday and hour; darker is busier."""
    days = words["days"]
    top = max(1.0, *(v for row in grid for v in row))
    parts = [f'<svg role="img" aria-label="heatmap" width="{40 + 24 * cell}" '
             f'height="{20 + 7 * cell}">']
    for h in range(0, 24, 2):
        parts.append(f'<text x="{40 + h * cell + 4}" y="12">{h:02d}</text>')
    for d, row in enumerate(grid):
        y = 18 + d * cell
        parts.append(f'<text x="0" y="{y + cell / 2 + 4}">{escape(days[d])}</text>')
        for h, v in enumerate(row):
            alpha = 0.06 + 0.94 * v / top if v else 0.0
            parts.append(f'<rect x="{40 + h * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}"'
                         f' fill="#1f5fbf" fill-opacity="{alpha:.3f}" stroke="#dde2ea">'
                         f'<title>{escape(days[d])} {h:02d}:00: {fmt(v)}</title></rect>')
    return "".join(parts) + "</svg>"


def sankey_svg(links: list[list[Any]], width: int = 900, height: int = 260,
               words: dict[str, Any] = WORDS["en"]) -> str:
    """Stages in columns (entry, self-serve, bot, human, outcome); band width ∝ conversations."""
    if not links:
        return f"<p>{escape(words['no-conversations'])}</p>"

    def stage(name: str) -> str:
        return str(words["stages"].get(name, name.replace("_", " ")))

    column = {"proactive": 0, "inbound": 0, "self_serve": 1, "bot": 2, "human": 3}
    nodes = sorted({n for a, b, _ in links for n in (a, b)},
                   key=lambda n: FUNNEL_ORDER.index(n) if n in FUNNEL_ORDER else 99)
    size = {n: max(sum(v for a, _, v in links if a == n), sum(v for _, b, v in links if b == n))
            for n in nodes}
    per_column = [[n for n in nodes if column.get(n, 4) == c] for c in range(5)]
    gaps = 8 * max(len(names) for names in per_column)
    scale = (height - 30 - gaps) / max(1.0, *(sum(size[n] for n in names)
                                              for names in per_column))
    pos: dict[str, list[float]] = {}
    fill = [0.0] * 5
    for n in nodes:
        c = column.get(n, 4)
        pos[n] = [30 + c * (width - 160) / 4, 10 + fill[c], 10 + fill[c], 10 + fill[c]]
        fill[c] += size[n] * scale + 8
    parts = [f'<svg role="img" aria-label="funnel sankey" width="{width}" height="{height}">']
    for a, b, v in links:
        thick = v * scale
        x1, y1 = pos[a][0] + 12, pos[a][2]
        x2, y2 = pos[b][0], pos[b][3]
        pos[a][2] += thick
        pos[b][3] += thick
        mid = (x1 + x2) / 2
        parts.append(f'<path d="M{x1:.1f},{y1 + thick / 2:.1f} C{mid:.1f},{y1 + thick / 2:.1f} '
                     f'{mid:.1f},{y2 + thick / 2:.1f} {x2:.1f},{y2 + thick / 2:.1f}" fill="none" '
                     f'stroke="#7aa6e0" stroke-opacity="0.55" stroke-width="{max(1.0, thick):.1f}">'
                     f'<title>{escape(stage(a))} → {escape(stage(b))}: {fmt(v)}</title></path>')
    for n in nodes:
        x, y = pos[n][0], pos[n][1]
        tall = max(2.0, size[n] * scale)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="{tall:.1f}"'
                     f' fill="#1f5fbf"/><text x="{x + 16:.1f}" y="{y + 11:.1f}">'
                     f'{escape(stage(n))} ({fmt(size[n])})</text>')
    return "".join(parts) + "</svg>"


def render_html(report: dict[str, Any], lang: str = "en") -> str:
    """The whole report page, in ``lang`` (:data:`LANGUAGES`; English if unknown)."""
    words = WORDS.get(lang, WORDS["en"])
    lang = lang if lang in WORDS else "en"
    total = report["total"]
    tiles = "".join(f'<div class="tile"><b>{fmt(total.get(k), u)}</b><span>'
                    f'{escape(words["tiles"][k])}</span></div>' for k, u in TILES)
    by = report["by"]
    head = "".join(f"<th>{escape(c)}</th>" for c in [*by, *COLUMNS])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(row.get(d) or words['none']))}</td>" for d in by)
        + "".join(f"<td>{fmt(row.get(c), unit_of(c))}</td>" for c in COLUMNS) + "</tr>"
        for row in report["rows"])
    funnel = report["funnel"]
    title = f"{words['title']} {report['from'][:16]} → {report['to'][:16]}"
    scope = words["scope"].format(workspace=report.get("workspace") or words["all"],
                                  by=", ".join(by) or words["nothing"],
                                  timezone=report["timezone"])
    counted = words["proactive-count"].format(sent=fmt(funnel["proactive_messages"]),
                                              shown=fmt(funnel["proactive_prompts"]))
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(scope)}</p>"
        f'<div class="tiles" id="kpis">{tiles}</div>'
        f"<h2>{escape(words['over-time'])}</h2>{series_svg(report['series'], words=words)}"
        f"<h2>{escape(words['busiest'])}</h2>{heatmap_svg(report['heatmap'], words=words)}"
        f"<h2>{escape(words['funnel'])}</h2><p>{escape(counted)}</p>"
        f"{sankey_svg(funnel['links'], words=words)}"
        f"<h2>{escape(words['by'].format(by=', '.join(by) or words['total']))}</h2>"
        f'<table id="groups"><tr>{head}</tr>{body}</table></body></html>')
