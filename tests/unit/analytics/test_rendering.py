"""KPIs from aggregate cells, the funnel's sankey links, and the self-contained HTML page."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from omniroute.analytics.charts import render_html, series_svg
from omniroute.analytics.kpis import Period, funnel_links, kpis
from omniroute.analytics.planning import answer
from omniroute.analytics.report import to_csv
from omniroute.analytics.staffing import StaffingInput
from omniroute.cli.analytics import staffing


class TestKpis:
    def test_rates_and_agent_figures(self) -> None:
        """Occupancy 600/1800, concurrency 900/600, utilization 900/(1800*3), survey 1/2."""
        cells = {"conversations": {"count": 4, "sum": 4}, "fcr": {"count": 2, "sum": 1},
                 "frt": {"count": 2, "sum": 100, "median": 50, "p90": 58},
                 "online_s": {"count": 2, "sum": 1800}, "chatting_s": {"count": 2, "sum": 600},
                 "engaged_s": {"count": 2, "sum": 900}, "csat": {"count": 1, "sum": 1},
                 "survey_sent": {"count": 2, "sum": 2}}
        got = kpis(cells, Period(3600))
        assert got["fcr_rate"] == 0.5 and got["frt_mean"] == 50 and got["frt_p90"] == 58
        assert got["occupancy"] == pytest.approx(1 / 3) and got["concurrency"] == 1.5
        assert got["utilization"] == pytest.approx(900 / 5400)
        assert got["agents_online"] == 0.5 and got["survey_response_rate"] == 0.5
        assert got["abandon_rate"] is None  # nothing abandoned or answered: unknown, not 0

    def test_utilization_counts_conversations_by_their_weight(self) -> None:
        """One email of weight 3 held by an agent of capacity 3 for all 1800 s online: load 5400
        over capacity 5400 is 100 %; concurrency still counts one conversation. Samples
        computed before load_s existed keep dividing the conversation count."""
        cells = {"online_s": {"count": 2, "sum": 1800}, "chatting_s": {"count": 2, "sum": 1800},
                 "engaged_s": {"count": 2, "sum": 1800}, "load_s": {"count": 2, "sum": 5400},
                 "capacity_s": {"count": 2, "sum": 5400}}
        got = kpis(cells, Period(3600))
        assert (got["utilization"], got["concurrency"]) == (1.0, 1.0)
        older = {k: v for k, v in cells.items() if k != "load_s"}
        assert kpis(older, Period(3600))["utilization"] == pytest.approx(1 / 3)

    def test_funnel_links_sum_paths(self) -> None:
        links = funnel_links({"inbound>bot>human>resolved_human": 2, "inbound>bot>resolved_bot": 3})
        assert links == [("inbound", "bot", 5), ("bot", "human", 2), ("bot", "resolved_bot", 3),
                         ("human", "resolved_human", 2)]


REPORT = {"from": "2026-11-20T09:00:00+00:00", "to": "2026-11-20T10:00:00+00:00",
          "by": ["pool"], "workspace": None, "timezone": "UTC",
          "rows": [{"pool": "support", "conversations": 3.0, "fcr_rate": 0.5}],
          "total": {"conversations": 3.0, "fcr_rate": 0.5, "frt_median": 65.0},
          "series": [{"at": "2026-11-20T09:00:00+00:00", "conversations": 3.0,
                      "frt_median": 65.0, "abandon_rate": 0.5, "occupancy": 0.3, "csat": 1.0}],
          "heatmap": [[0.0] * 24 for _ in range(7)],
          "funnel": {"proactive_messages": 0.0, "proactive_prompts": 0.0, "paths": {},
                     "links": [["inbound", "human", 2.0], ["human", "resolved_human", 2.0]]}}


class TestHtml:
    def test_self_contained_with_charts(self) -> None:
        """One page: inline SVG for series, heatmap and sankey; nothing fetched from anywhere."""
        page = render_html(REPORT)
        assert page.count("<svg") == 3
        assert "http://" not in page and "https://" not in page and "<script" not in page
        assert "50.0%" in page and "65s" in page
        assert ">FRT 65s</text>" in page

    def test_no_first_response_axis_without_a_first_response(self) -> None:
        """A period where no conversation had a first response draws no FRT line, and its
        axis does not say "FRT 1s" (a user run's report did)."""
        quiet = {**REPORT, "series": [{**REPORT["series"][0], "frt_median": None}]}
        page = render_html(quiet)
        assert page.count("<svg") == 3 and "<polyline" not in page and ">FRT " not in page

    def test_the_first_response_axis_fits_beside_the_bars(self) -> None:
        """User run 55: a week by the hour with one busy hour drew no FRT line (one point),
        and its label began at width - 55, over the last bar, its last letter off the edge."""
        hours = [{**REPORT["series"][0], "at": f"2026-11-20T{h:02d}:00:00+00:00",
                  "conversations": 14.0 if h == 23 else 0.0,
                  "frt_median": 144.0 if h == 23 else None} for h in range(24)]
        svg = ElementTree.fromstring(series_svg(hours, width=900))
        bars = list(svg.iter("rect"))
        assert max(float(r.get("x", 0)) + float(r.get("width", 0)) for r in bars) <= 840
        dot = svg.find("circle")
        assert dot is not None and float(dot.get("cx", 0)) > 800  # the busy hour's FRT
        label = next(t for t in svg.iter("text") if (t.text or "").startswith("FRT"))
        assert label.text == "FRT 2.4min" and label.get("text-anchor") == "end"
        assert float(label.get("x", 0)) <= 900
        two = ElementTree.fromstring(series_svg([*hours[:22], hours[23], hours[23]]))
        assert two.find("polyline") is not None and two.find("circle") is None


    def test_in_korean_and_english_otherwise(self) -> None:
        """``lang`` picks the words; the figures and the metric columns stay as they are."""
        page = render_html(REPORT, "ko")
        assert '<html lang="ko">' in page and "<h1>상담 리포트 " in page
        assert "<span>첫 상담 해결률 (FCR)</span>" in page and "상담원 해결 (2)" in page
        assert "50.0%" in page and "<th>frt_median</th>" in page
        assert render_html(REPORT, "xx") == render_html(REPORT)


class TestStaffingCommand:
    def test_published_vector_from_the_command_line(self) -> None:
        out = CliRunner().invoke(staffing, ["--contacts", "100", "--aht", "180", "--format",
                                            "json"])
        assert out.exit_code == 0, out.output
        got = json.loads(out.output)
        assert (got["agents"], got["rostered"]) == (14, 20)
        assert round(got["p_wait"], 4) == 0.1741 and round(got["asa_s"], 3) == 7.836

    def test_erlang_a_needs_patience(self) -> None:
        out = CliRunner().invoke(staffing, ["--contacts", "100", "--model", "erlang-a"])
        assert out.exit_code == 2 and "patience" in out.output

    def test_models_compare(self) -> None:
        """Erlang A with impatient customers staffs fewer agents than Erlang C."""
        demand = StaffingInput(contacts=100, aht_s=180)
        assert answer(demand, "erlang-a", 60)["agents"] < answer(demand)["agents"] == 14


class TestCsv:
    def test_counts_are_integers_and_figures_four_decimals(self) -> None:
        """A user run's export read `306.0` conversations and `326.47060580000004` s."""
        report = {"by": ["pool"], "total": {}, "rows": [
            {"pool": "support", "conversations": 306.0, "frt_p90": 326.47060580000004,
             "occupancy": 0.7325890770662671, "csat": None, "transfers": 0.0}]}
        header, row = to_csv(report).splitlines()
        assert header == "pool,conversations,frt_p90,occupancy,csat,transfers"
        assert row == "support,306,326.4706,0.7326,,0"
