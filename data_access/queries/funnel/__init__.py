"""Ordered funnels computed from raw journey events, in the database (PostHog's ordered-funnel semantics).

1. Only events inside the period count, for every step.
2. Every event of the first step starts an attempt. The attempt reaches step k when events of steps 2..k follow in
   order, each at or after the previous one (equal timestamps are in order) and each no later than the attempt's
   first-step event plus the window (boundary included). The earliest qualifying event fills each step, which
   never reaches fewer steps than any other choice. Steps are distinct stages, so an event fills one step at most.
3. A customer counts once, at the furthest step any attempt reaches; counts are cumulative.
4. Exclusion (X, i, j): an attempt is tainted when an X event falls strictly after its step-i event and strictly
   before its step-j event, or, when it never reaches step j, strictly after step i and within the window.
   A customer whose furthest-reaching attempts are all tainted leaves the funnel.

Times are compared in whole milliseconds (``dialect.epoch_ms``). The customer's *chosen* attempt is the
furthest-reaching untainted one, the earliest of those; times to convert are read from it.

A folder of variants, as PostHog keeps its funnels: what is asked (:mod:`.spec`), the attempts that every variant
reads (:mod:`.attempts`), the counts (:mod:`.counts`), times and trends (:mod:`.timing`), the people who dropped
(:mod:`.people`) and reading the result (:mod:`.reading`). Callers use ``funnel.X`` for the names below."""

from data_access.queries.funnel.attempts import (
    EPOCH,
    attempts_stored,
    chosen_attempts,
    how,
    reach,
    refresh_attempts,
    step_time,
)
from data_access.queries.funnel.counts import (
    breakdown,
    counts_query,
    steps,
)
from data_access.queries.funnel.people import (
    CLI_COLUMNS,
    dropped,
    dropped_query,
)
from data_access.queries.funnel.reading import (
    against_the_rest,
    biggest_leak,
    without_filter_on,
)
from data_access.queries.funnel.spec import (
    BREAKDOWNS,
    DEFAULT_WINDOW,
    MIN_STEPS,
    RETURNING,
    UNITS,
    Exclusion,
    FunnelError,
    FunnelSpec,
    checked_spec,
    default_steps,
    format_window,
    funnel_stages,
    parse_window,
    previous_period,
    stage_ids,
)
from data_access.queries.funnel.timing import (
    MEDIAN,
    TIME_BUCKETS,
    durations_query,
    over_time,
    over_time_query,
    reach_and_time,
    report,
    time_to_convert,
)

__all__ = [
    "BREAKDOWNS",
    "CLI_COLUMNS",
    "DEFAULT_WINDOW",
    "EPOCH",
    "MEDIAN",
    "MIN_STEPS",
    "RETURNING",
    "TIME_BUCKETS",
    "UNITS",
    "Exclusion",
    "FunnelError",
    "FunnelSpec",
    "against_the_rest",
    "attempts_stored",
    "biggest_leak",
    "breakdown",
    "checked_spec",
    "chosen_attempts",
    "counts_query",
    "default_steps",
    "dropped",
    "dropped_query",
    "durations_query",
    "format_window",
    "funnel_stages",
    "how",
    "over_time",
    "over_time_query",
    "parse_window",
    "previous_period",
    "reach",
    "reach_and_time",
    "refresh_attempts",
    "report",
    "stage_ids",
    "step_time",
    "steps",
    "time_to_convert",
    "without_filter_on",
]
