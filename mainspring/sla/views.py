"""The SLA compliance report page (/sla/report/) and its CSV export (?format=csv).

Agents, managers and admins only (``agent_page``: a requester gets a 404, as on the other
agent pages). Thin: parse the form, ask ``sla.report``, render.
"""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from mainspring.workspace.access import agent_page

from .forms import ReportForm
from .report import ComplianceReport, ComplianceRow, compliance
from .templatetags.sla_tags import short_duration

# The chart: a 100 % bar per row (met green, breached red), in SVG user units.
CHART_ROWS = 40
# It scales to its box (at most 32rem wide, ``.narrow``), so the units are about pixels.
_WIDTH, _LABEL_END, _BAR_X, _BAR_W, _ROW_H, _TOP = 480, 150, 158, 250, 28, 34
_LABEL_CHARS = 20
_NOUNS = {"sla": "SLA", "group": "group", "priority": "priority", "month": "month"}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet opens as text: a leading ``'`` before = + - @ TAB CR."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _hours(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.2f}"


def _display(row: ComplianceRow) -> dict:
    """A table row: counts, percent and mean times in words (business time)."""

    def duration(seconds: int | None) -> str:
        return "—" if seconds is None else short_duration(seconds)

    return {
        "row": row,
        "percent": "—" if row.percent_met is None else f"{row.percent_met:.1f} %",
        "respond": duration(row.mean_response_seconds),
        "resolve": duration(row.mean_resolution_seconds),
    }


def _chart(report: ComplianceReport) -> dict:
    """Bar geometry for the template (no inline style: the CSP forbids it)."""
    bars = []
    for i, row in enumerate(report.rows[:CHART_ROWS]):
        y = _TOP + i * _ROW_H
        met_w = round(_BAR_W * row.met / row.counted) if row.counted else 0
        label = row.label
        if len(label) > _LABEL_CHARS:
            label = label[: _LABEL_CHARS - 1] + "…"
        bars.append(
            {
                "row": row,
                "label": label,
                "percent": _display(row)["percent"],
                "y": y,
                "text_y": y + 15,
                "met_w": met_w,
                "breached_x": _BAR_X + met_w,
                "breached_w": (_BAR_W - met_w) if row.counted else 0,
            }
        )
    return {
        "bars": bars,
        "width": _WIDTH,
        "height": _TOP + len(bars) * _ROW_H + 4,
        "label_end": _LABEL_END,
        "bar_x": _BAR_X,
        "bar_w": _BAR_W,
        "pct_x": _BAR_X + _BAR_W + 8,
        "legend_breached_x": _BAR_X + 70,
        "truncated": len(report.rows) > CHART_ROWS,
    }


def _csv(report: ComplianceReport, form: ReportForm) -> HttpResponse:
    data = form.cleaned_data
    name = f"sla-compliance-{data['from']}-to-{data['to']}-by-{report.by}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        [
            report.by_label,
            "Met",
            "Breached",
            "Percent met",
            "Mean time to respond (business hours)",
            "Mean time to resolve (business hours)",
        ]
    )
    rows: list[ComplianceRow] = [*report.rows, report.total]
    for row in rows:
        writer.writerow(
            [
                csv_cell(row.label),
                row.met,
                row.breached,
                "" if row.percent_met is None else f"{row.percent_met:.1f}",
                _hours(row.mean_response_seconds),
                _hours(row.mean_resolution_seconds),
            ]
        )
    return response


@agent_page
@require_GET
def report(request: HttpRequest) -> HttpResponse:
    """Compliance per SLA, group, priority or month over a period; ``?format=csv`` exports."""
    form = ReportForm(request.GET, today=timezone.localdate())
    result: ComplianceReport | None = None
    if form.is_valid():
        start, end = form.period()
        try:
            result = compliance(start=start, end=end, by=form.cleaned_data["by"])
        except ValidationError as exc:
            form.apply_errors(exc.message_dict, aliases={"start": "from", "end": "to"})
    if result is not None and request.GET.get("format") == "csv":
        return _csv(result, form)
    context = {"form": form, "report": result, "by_noun": _NOUNS.get(form.data.get("by"), "")}
    if result is not None:
        data = form.cleaned_data
        query = {"from": data["from"].isoformat(), "to": data["to"].isoformat(), "by": result.by}
        context["csv_query"] = urlencode({**query, "format": "csv"})
        context["chart"] = _chart(result)
        context["rows"] = [_display(row) for row in result.rows]
        context["total"] = _display(result.total)
    return render(request, "sla/report.html", context, status=200 if result else 400)
