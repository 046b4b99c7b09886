"""A report as one self-contained HTML file: inline SVG charts, no script, no network (pure).

Charts: headline KPI tiles, a time series (conversations as bars, median
first response as a line), a weekday x hour heatmap of conversations, and
the proactive → self-serve → bot → human funnel as a sankey diagram.
"""

from __future__ import annotations

from html import escape
from typing import Any

from omniroute.analytics.kpis import FUNNEL_ORDER

TILES = (("conversations", "Conversations", "n"), ("frt_median", "First response (median)", "s"),
         ("frt_p90", "First response p90", "s"), ("queue_wait_mean", "Queue wait (mean)", "s"),
         ("resolution_last_median", "Resolution (median)", "s"),
         ("handle_time_mean", "Handle time (mean)", "s"), ("fcr_rate", "FCR", "%"),
         ("csat", "CSAT", "%"), ("abandon_rate", "Abandoned", "%"), ("missed", "Missed", "n"),
         ("occupancy", "Occupancy", "%"), ("concurrency", "Concurrency", "x"),
         ("sla_breach_rate", "SLA breached", "%"), ("bot_resolution_rate", "Bot resolution", "%"))
COLUMNS = ("conversations", "frt_median", "frt_p90", "frt_business_median", "queue_wait_mean",
           "next_reply_median", "resolution_first_median", "resolution_last_median",
           "chat_duration_mean", "handle_time_mean", "fcr_rate", "csat", "survey_response_rate",
           "abandon_rate", "missed", "sla_breach_rate", "bot_resolution_rate",
           "article_resolution_rate", "human_resolved_share", "transfers", "occupancy",
           "utilization", "concurrency", "agents_online", "agents_chatting")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
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


def series_svg(series: list[dict[str, Any]], width: int = 900, height: int = 220) -> str:
    """Bars of conversations per bucket, a line of median first response (right axis)."""
    if not series:
        return "<p>No data in this period.</p>"
    n = len(series)
    top = max(1.0, *(s["conversations"] or 0 for s in series))
    frt_top = max(1.0, *(s["frt_median"] or 0 for s in series))
    step = (width - 60) / n
    parts = [f'<svg role="img" aria-label="time series" width="{width}" height="{height + 30}">']
    points = []
    for i, s in enumerate(series):
        x = 40 + i * step
        h = (s["conversations"] or 0) / top * height
        parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{max(1.0, step - 2):.1f}" '
                     f'height="{h:.1f}" fill="#7aa6e0"><title>{escape(s["at"])}: '
                     f'{fmt(s["conversations"])} conversations</title></rect>')
        if s["frt_median"] is not None:
            points.append(f"{x + step / 2:.1f},{height - s['frt_median'] / frt_top * height:.1f}")
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#d9534f" '
                     'stroke-width="2"/>')
    parts.append(f'<text x="0" y="12">{fmt(top)}</text><text x="{width - 55}" y="12" '
                 f'fill="#d9534f">FRT {fmt(frt_top, "s")}</text>')
    first, last = escape(series[0]["at"][:16]), escape(series[-1]["at"][:16])
    parts.append(f'<text x="40" y="{height + 20}">{first}</text>'
                 f'<text x="{width - 160}" y="{height + 20}">{last}</text>')
    return "".join(parts) + "</svg>"


def heatmap_svg(grid: list[list[float]], cell: int = 28) -> str:
    """Conversations by weekday and hour; darker is busier."""
    top = max(1.0, *(v for row in grid for v in row))
    parts = [f'<svg role="img" aria-label="heatmap" width="{40 + 24 * cell}" '
             f'height="{20 + 7 * cell}">']
    for h in range(0, 24, 2):
        parts.append(f'<text x="{40 + h * cell + 4}" y="12">{h:02d}</text>')
    for d, row in enumerate(grid):
        y = 18 + d * cell
        parts.append(f'<text x="0" y="{y + cell / 2 + 4}">{DAYS[d]}</text>')
        for h, v in enumerate(row):
            alpha = 0.06 + 0.94 * v / top if v else 0.0
            parts.append(f'<rect x="{40 + h * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}"'
                         f' fill="#1f5fbf" fill-opacity="{alpha:.3f}" stroke="#dde2ea">'
                         f'<title>{DAYS[d]} {h:02d}:00: {fmt(v)}</title></rect>')
    return "".join(parts) + "</svg>"


def sankey_svg(links: list[list[Any]], width: int = 900, height: int = 260) -> str:
    """Stages in columns (entry, self-serve, bot, human, outcome); band width ∝ conversations."""
    if not links:
        return "<p>No conversations in this period.</p>"
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
                     f'<title>{escape(a)} → {escape(b)}: {fmt(v)}</title></path>')
    for n in nodes:
        x, y = pos[n][0], pos[n][1]
        tall = max(2.0, size[n] * scale)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="{tall:.1f}"'
                     f' fill="#1f5fbf"/><text x="{x + 16:.1f}" y="{y + 11:.1f}">'
                     f'{escape(n.replace("_", " "))} ({fmt(size[n])})</text>')
    return "".join(parts) + "</svg>"


def render_html(report: dict[str, Any]) -> str:
    """The whole report page."""
    total = report["total"]
    tiles = "".join(f'<div class="tile"><b>{fmt(total.get(k), u)}</b><span>{escape(label)}'
                    f"</span></div>" for k, label, u in TILES)
    by = report["by"]
    head = "".join(f"<th>{escape(c)}</th>" for c in [*by, *COLUMNS])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(row.get(d) or '(none)'))}</td>" for d in by)
        + "".join(f"<td>{fmt(row.get(c), unit_of(c))}</td>" for c in COLUMNS) + "</tr>"
        for row in report["rows"])
    funnel = report["funnel"]
    title = f"Support report {report['from'][:16]} → {report['to'][:16]}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f'<p>Workspace {escape(str(report.get("workspace") or "all"))}; grouped by '
        f'{escape(", ".join(by) or "nothing")}; times in {escape(report["timezone"])}.</p>'
        f'<div class="tiles" id="kpis">{tiles}</div>'
        f"<h2>Conversations and first response over time</h2>{series_svg(report['series'])}"
        f"<h2>Busiest hours and days</h2>{heatmap_svg(report['heatmap'])}"
        f"<h2>Funnel: proactive → self-serve → bot → human</h2>"
        f"<p>Proactive messages sent: {fmt(funnel['proactive_messages'])} · web chat "
        f"prompts shown: {fmt(funnel['proactive_prompts'])}</p>"
        f"{sankey_svg(funnel['links'])}"
        f'<h2>By {escape(", ".join(by) or "total")}</h2><table id="groups"><tr>{head}</tr>'
        f"{body}</table></body></html>")
