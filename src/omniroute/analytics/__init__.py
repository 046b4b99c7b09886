"""Support analytics: metric formulas, staffing math, incremental aggregates, reports, what-if.

Pure modules (no I/O): :mod:`~omniroute.analytics.formulas`,
:mod:`~omniroute.analytics.staffing`, :mod:`~omniroute.analytics.erlang_a`,
:mod:`~omniroute.analytics.chatsim`, :mod:`~omniroute.analytics.facts`,
:mod:`~omniroute.analytics.hours`, :mod:`~omniroute.analytics.whatif`,
:mod:`~omniroute.analytics.charts`. Shells: :mod:`~omniroute.analytics.compute`
(PostgreSQL), :mod:`~omniroute.analytics.api` (gateway routes) and the CLI.
Every metric is defined once in ``docs/analytics.md``.
"""
