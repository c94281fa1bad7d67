"""Seeded, vectorised generator of the sample company's data, for every table of the contract.

Customers are drawn in fixed-size blocks, each from its own random stream (seed, block), so the rows do not
depend on how many blocks are asked for and memory stays bounded at any size. Stories planted:
- B2C customers leak between onboarding and regular use (and rate onboarding low);
- NPS drops after Release 5.0;
- second-line FCR is weak on financial tickets;
- B2C unsubscribes spike in the two weeks after the B2C price change;
- the win-back campaign lifts reactivation of customers who cancelled.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np
import polars as pl

from data_access import schema
from sample_data import story, story_ru

BLOCK = 50_000  # customers per block; fixed so the data does not depend on the requested size
SPAN_DAYS = (story.END - story.START).days


def _days(value: datetime) -> float:
    return (value - story.START).total_seconds() / 86_400


def _ts(days: np.ndarray) -> pl.Series:
    """Days since START (float) -> UTC timestamps (naive, microseconds)."""
    micros = np.datetime64(story.START, "us").astype(np.int64) + np.floor(days * 86_400).astype(np.int64) * 1_000_000
    return pl.Series(micros).cast(pl.Datetime("us"))


def _ids(prefix: str, start: int, count: int, width: int = 9) -> pl.Series:
    numbers = pl.Series(np.arange(start, start + count, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return (prefix + numbers) if count else pl.Series([], dtype=pl.String)


def _choice(rng: np.random.Generator, options: dict[str, float], size: int) -> np.ndarray:
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def _choice_by(rng: np.random.Generator, by: np.ndarray, options: dict[str, dict[str, float]]) -> np.ndarray:
    out = np.empty(len(by), dtype=object)
    for key, opts in options.items():
        mask = by == key
        out[mask] = _choice(rng, opts, int(mask.sum()))
    return out


def _pick(rng: np.random.Generator, values: tuple[str, ...], size: int) -> np.ndarray:
    return np.array(values, dtype=object)[rng.integers(0, len(values), size)]


class _Rows:
    """Accumulates columns of one table across the parts of a block."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, **cols: np.ndarray) -> None:
        self.parts.append(cols)

    def column(self, name: str) -> np.ndarray:
        return np.concatenate([p[name] for p in self.parts]) if self.parts else np.array([])


def reference_tables() -> dict[str, pl.DataFrame]:
    """Stages, targets, journey maps (one per persona) and business events."""
    stages = pl.DataFrame(
        {
            "stage_id": [s[0] for s in story.STAGES],
            "name": [s[1] for s in story.STAGES],
            "position": list(range(1, len(story.STAGES) + 1)),
            "in_funnel": [s[2] for s in story.STAGES],
            "phase": [story.PHASES[s[0]] for s in story.STAGES],
            "description": [s[3] for s in story.STAGES],
        }
    )
    targets = pl.DataFrame(story.TARGETS, schema=["stage_id", "metric", "target", "warn"], orient="row")
    rows = []
    for segment, personas in story.PERSONAS.items():
        for persona in personas:
            for stage_id, texts in story.MAP_TEXT.items():
                for lane, text in zip(schema.MAP_LANES, texts, strict=True):
                    if lane == "feelings":
                        text = f"{text}; {story.PERSONA_FEELINGS[persona]}"
                    rows.append((f"{persona} ({segment}) - current state", stage_id, lane, text))
    journey_map = pl.DataFrame(rows, schema=["map", "stage_id", "lane", "text"], orient="row")
    events = pl.DataFrame(
        story.BUSINESS_EVENTS, schema=["occurred_at", "name", "description", "segment"], orient="row"
    ).with_columns(pl.col("occurred_at").cast(pl.Datetime("us")))
    experiments = pl.DataFrame(
        story.EXPERIMENTS,
        schema=["experiment", "hypothesis", "primary_metric", "stage_id", "start_at", "end_at", "owner"],
        orient="row",
    ).with_columns(pl.col("start_at", "end_at").cast(pl.Datetime("us")))
    rules = pl.DataFrame(story.STAGE_RULES, schema=["event", "property", "value", "stage_id"], orient="row")
    return {
        "stages": stages,
        "kpi_targets": targets,
        "journey_map": journey_map,
        "stage_rules": rules,
        "business_events": events,
        "experiment_info": experiments,
    }


def _scores(rng: np.random.Generator, probs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """One score per row; ``probs`` has one row of probabilities over ``values`` per output row."""
    cum = probs.cumsum(axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return values[(u > cum).sum(axis=1)]


def _nps_probs(when: np.ndarray, base_promoters: float, base_detractors: float) -> np.ndarray:
    """Probabilities of scores 0..10; after Release 5.0 promoters fall and detractors rise."""
    after = when >= _days(story.RELEASE_5)
    prom = np.where(after, base_promoters - 0.22, base_promoters)
    det = np.where(after, base_detractors + 0.18, base_detractors)
    passive = 1 - prom - det
    probs = np.zeros((len(when), 11))
    probs[:, :7] = (det / 7)[:, None]
    probs[:, 7:9] = (passive / 2)[:, None]
    probs[:, 9:] = (prom / 2)[:, None]
    return probs


def _csat_probs(good: np.ndarray) -> np.ndarray:
    """Probabilities of scores 1..5 where ``good`` is the share of 4-5."""
    probs = np.zeros((len(good), 5))
    probs[:, :3] = ((1 - good) / 3)[:, None]
    probs[:, 3:] = (good / 2)[:, None]
    return probs


def _people(seed: int, block: int, cid: pl.Series) -> dict[str, pl.Series]:
    """Names and e-mails for the customers ``cid`` (from a generator of their own: the stories' numbers stay)."""
    rng = np.random.default_rng([seed, block, 1])
    first = pl.Series(_pick(rng, story.FIRST_NAMES, cid.len()).tolist(), dtype=pl.String)
    last = pl.Series(_pick(rng, story.LAST_NAMES, cid.len()).tolist(), dtype=pl.String)
    number = cid.str.slice(1).cast(pl.Int64).cast(pl.String)
    email = first.str.to_lowercase() + "." + last.str.to_lowercase() + "." + number + "@example.com"
    return {"email": email, "name": first + " " + last}


def generate_block(seed: int, block: int, size: int) -> dict[str, pl.DataFrame]:
    """The customers ``block * BLOCK .. + size`` and every row that belongs to them."""
    rng = np.random.default_rng([seed, block])
    first = block * BLOCK
    n = size
    cid = _ids("C", first, n)

    segment = _choice(rng, story.SEGMENTS, n)
    persona = _choice_by(rng, segment, story.PERSONAS)
    channel = _choice_by(rng, segment, story.CHANNELS)
    plan = _choice_by(rng, segment, story.PLANS)
    region = _choice(rng, story.REGIONS, n)
    b2c = segment == "B2C"
    signup = rng.uniform(0, SPAN_DAYS - 20, n)

    events = _Rows()
    orders = _Rows()
    surveys = _Rows()

    def event(who: np.ndarray, when: np.ndarray, stage: str, actions: tuple[str, ...] | None = None) -> None:
        events.add(
            who=who,
            when=when,
            stage=np.full(len(who), stage, dtype=object),
            touchpoint=_pick(rng, story.TOUCHPOINTS[stage], len(who)),
            action=_pick(rng, actions or story.ACTIONS[stage], len(who)),
        )

    # --- The funnel: awareness -> consideration -> decision -> onboarding -> regular use -> loyalty.
    step_p = np.where(b2c[:, None], np.array(story.STEP_P["B2C"]), np.array(story.STEP_P["B2B"]))
    lift = np.array([story.CHANNEL_LIFT.get(c, 0.0) for c in channel])
    step_p = np.clip(step_p + lift[:, None], 0.02, 0.98)
    reached = np.ones(n, dtype=np.int64)  # funnel steps reached, 1..6
    alive = np.ones(n, dtype=bool)
    for k in range(5):
        alive &= rng.random(n) < step_p[:, k]
        reached += alive
    gaps = np.column_stack(
        [
            np.zeros(n),
            rng.exponential(4, n),  # to consideration
            rng.exponential(6, n) + np.where(b2c, 0, 14),  # to decision (B2B buys slower)
            rng.exponential(1, n),  # to onboarding
            rng.exponential(12, n) + 3,  # to regular use
            rng.exponential(30, n) + 10,  # to loyalty
        ]
    )
    when = signup[:, None] + gaps.cumsum(axis=1)
    for k, stage in enumerate(story.FUNNEL):
        who = np.flatnonzero(reached > k)
        event(who, when[who, k], stage)
    # Some prospects see the product twice before they consider it: a second attempt.
    again = np.flatnonzero(rng.random(n) < 0.15)
    event(again, signup[again] + rng.uniform(1, 30, len(again)), "awareness")

    buyer = reached >= 3
    first_order = when[:, 2]
    orders.add(who=np.flatnonzero(buyer), when=first_order[buyer])

    # --- Life after the first purchase: regular use, then maybe inactivity, a cancellation, a return.
    regular = reached >= 5
    churn_p = np.select([reached >= 6, regular, buyer], [0.06, 0.22, 0.65], 0.0)
    churner = rng.random(n) < churn_p
    last_active = np.where(regular, when[:, 4] + rng.exponential(120, n), when[:, 3] + rng.exponential(10, n))
    last_active = np.where(buyer, last_active, when[:, 0])
    inactive_at = last_active + rng.uniform(25, 40, n)
    attempt_at = inactive_at + rng.exponential(10, n) + 1
    churned = churner & (attempt_at + 2 < SPAN_DAYS)
    churned_at = np.where(churned, attempt_at + rng.uniform(0.5, 3, n), np.nan)

    uses = np.where(regular, rng.poisson(np.where(b2c, 4, 6)) + 1, 0)
    user = np.repeat(np.arange(n), uses)
    use_end = np.where(churned, churned_at, np.minimum(last_active, SPAN_DAYS))
    use_when = when[user, 4] + rng.random(len(user)) * np.maximum(use_end[user] - when[user, 4], 0.1)
    event(user, use_when, "regular_use")
    repeat = rng.random(len(user)) < 0.35
    orders.add(who=user[repeat], when=use_when[repeat])

    lapsed = np.flatnonzero(buyer & (churner | (rng.random(n) < 0.1)))
    event(lapsed, inactive_at[lapsed], "inactivity")
    tried = np.flatnonzero(churned | (buyer & ~churner & (rng.random(n) < 0.05)))
    event(tried, attempt_at[tried], "churn_attempt")

    # Reactivation: the win-back campaign reaches everyone who cancelled and works far better than chance.
    campaign = _days(story.WIN_BACK)
    after_campaign = churned & (churned_at + 30 >= campaign)
    back_p = np.where(after_campaign, 0.32, 0.06)
    back = churned & (rng.random(n) < back_p)
    back_at = np.where(after_campaign, np.maximum(churned_at, campaign), churned_at) + rng.uniform(5, 40, n)
    back &= back_at < SPAN_DAYS
    returned = np.flatnonzero(back)
    event(returned, back_at[returned], "reactivation")
    orders.add(who=returned, when=back_at[returned] + rng.uniform(0, 3, len(returned)))

    # Unsubscribes: a trickle everywhere, a spike in the price-changed segment in the two weeks after it.
    price = _days(story.PRICE_CHANGE)
    trickle = np.flatnonzero(buyer & (rng.random(n) < 0.03))
    event(trickle, rng.uniform(signup[trickle], SPAN_DAYS), "inactivity", ("unsubscribe",))
    exposed = buyer & (segment == story.PRICE_SEGMENT) & (when[:, 2] < price) & ~(churned & (churned_at < price))
    spike = np.flatnonzero(exposed & (rng.random(n) < 0.09))
    event(spike, price + rng.uniform(0, 14, len(spike)), "inactivity", ("unsubscribe",))

    # --- Surveys.
    def survey(who: np.ndarray, at: np.ndarray, stage: str, kind: str, score: np.ndarray) -> None:
        surveys.add(
            who=who,
            when=at,
            stage=np.full(len(who), stage, dtype=object),
            survey=np.full(len(who), kind, dtype=object),
            score=score,
        )

    def csat(who: np.ndarray, at: np.ndarray, stage: str, good: np.ndarray | float) -> None:
        shares = np.broadcast_to(np.asarray(good, dtype=float), len(who))
        survey(who, at, stage, "csat", _scores(rng, _csat_probs(shares), np.arange(1, 6)))

    def nps(who: np.ndarray, at: np.ndarray, stage: str, promoters: float, detractors: float) -> None:
        survey(who, at, stage, "nps", _scores(rng, _nps_probs(at, promoters, detractors), np.arange(11)))

    onb = np.flatnonzero((reached >= 4) & (rng.random(n) < 0.45))
    onb_at = when[onb, 3] + rng.uniform(1, 7, len(onb))
    csat(onb, onb_at, "onboarding", np.where(b2c[onb], 0.52, 0.86))
    onb2 = np.flatnonzero((reached >= 4) & (rng.random(n) < 0.3))
    ces_mean = np.where(b2c[onb2], 3.9, 5.7)
    survey(
        onb2,
        when[onb2, 3] + rng.uniform(1, 7, len(onb2)),
        "onboarding",
        "ces",
        np.clip(np.rint(rng.normal(ces_mean, 1.2)), 1, 7).astype(np.int64),
    )
    dec = np.flatnonzero(buyer & (rng.random(n) < 0.35))
    csat(dec, first_order[dec] + rng.uniform(0, 2, len(dec)), "decision", 0.84)
    con = np.flatnonzero((reached >= 2) & (rng.random(n) < 0.15))
    csat(con, when[con, 1] + rng.uniform(0, 2, len(con)), "consideration", 0.78)
    nps_who = np.repeat(np.flatnonzero(regular), rng.poisson(0.8, int(regular.sum())))
    nps_at = rng.uniform(when[nps_who, 4], np.maximum(use_end[nps_who], when[nps_who, 4] + 1))
    nps(nps_who, nps_at, "regular_use", 0.52, 0.18)
    loyal = np.flatnonzero((reached >= 6) & (rng.random(n) < 0.5))
    loyal_at = when[loyal, 5] + rng.uniform(0, 30, len(loyal))
    nps(loyal, loyal_at, "loyalty", 0.72, 0.08)
    leaving = tried[rng.random(len(tried)) < 0.4]
    leave_at = attempt_at[leaving] + rng.uniform(0, 2, len(leaving))
    nps(leaving, leave_at, "churn_attempt", 0.08, 0.7)
    react = returned[rng.random(len(returned)) < 0.5]
    csat(react, back_at[react] + rng.uniform(1, 5, len(react)), "reactivation", 0.8)

    # --- Tickets across the three support lines.
    per_customer = np.where(buyer, rng.poisson(np.where(b2c & (reached == 4), 0.9, 0.45)), 0)
    t_who = np.repeat(np.arange(n), per_customer)
    m = len(t_who)
    t_end = np.where(churned[t_who], churned_at[t_who], SPAN_DAYS)
    t_open = first_order[t_who] + rng.random(m) * np.maximum(t_end - first_order[t_who], 0.5)
    category = _choice(rng, {"technical": 0.45, "financial": 0.3, "emotional": 0.15, "other": 0.1}, m)
    stage_for = {
        "technical": ("onboarding", "regular_use", "onboarding"),
        "financial": ("decision", "regular_use", "churn_attempt"),
        "emotional": ("regular_use", "churn_attempt", "support"),
        "other": ("regular_use", "support", "consideration"),
    }
    t_stage = np.empty(m, dtype=object)
    for cat, opts in stage_for.items():
        mask = category == cat
        t_stage[mask] = _pick(rng, opts, int(mask.sum()))
    entry = _choice(rng, {"bot": 0.45, "chat": 0.25, "phone": 0.15, "email": 0.15}, m)
    bot = entry == "bot"
    bot_resolved = bot & (rng.random(m) < np.where(category == "technical", 0.45, 0.3))
    line = np.where(bot_resolved, 1, _choice(rng, {"1": 0.55, "2": 0.33, "3": 0.12}, m).astype(np.int64))
    fcr_p = np.select([line == 1, (line == 2) & (category == "financial"), line == 2], [0.8, 0.34, 0.72], 0.6)
    first_contact = rng.random(m) < fcr_p
    contacts = np.where(first_contact, 1, 2 + rng.poisson(0.8, m))
    reopened = ~first_contact & (rng.random(m) < 0.35)
    contacts = np.where(reopened & (contacts == 1), 2, contacts)
    response_minutes = np.select(
        [bot, entry == "chat", entry == "phone"],
        [rng.uniform(0.01, 0.1, m), rng.exponential(4, m), rng.exponential(3, m)],
        rng.exponential(240, m),
    )
    resolve_hours = np.select(
        [bot_resolved, line == 1, line == 2],
        [rng.uniform(0.02, 0.3, m), rng.exponential(3, m), rng.exponential(20, m)],
        rng.exponential(72, m),
    )
    t_first = t_open + response_minutes / 1440
    t_resolved = t_open + response_minutes / 1440 + resolve_hours / 24 + (contacts - 1) * rng.uniform(0.5, 2, m)
    still_open = (t_resolved >= SPAN_DAYS) | (rng.random(m) < 0.02)
    agent_pool = np.select(
        [line == 1, line == 2], [rng.integers(1, 41, m), rng.integers(41, 56, m)], rng.integers(56, 64, m)
    )
    agent = pl.Series(agent_pool).cast(pl.String).str.zfill(3)
    agent = pl.Series(np.where(bot_resolved, None, ("A" + agent).to_numpy()).tolist(), dtype=pl.String)
    rated = rng.random(m) < 0.5
    good = np.where(first_contact, 0.85, 0.4)
    t_csat = _scores(rng, _csat_probs(good), np.arange(1, 6))
    sup_t = np.flatnonzero(rng.random(m) < 0.6)
    event(t_who[sup_t], t_open[sup_t], "support")
    sup = np.flatnonzero(rng.random(m) < 0.2)
    survey(
        t_who[sup],
        t_open[sup] + rng.uniform(0.1, 2, len(sup)),
        "support",
        "ces",
        np.clip(np.rint(rng.normal(np.where(first_contact[sup], 5.8, 3.6), 1.0)), 1, 7).astype(np.int64),
    )

    # --- Assemble the frames, dropping anything that would lie after the end of the data.
    ticket_id = _ids(f"T{block:04d}", 0, m, 6)
    keep_t = t_open < SPAN_DAYS
    tickets = (
        pl.DataFrame(
            {
                "ticket_id": ticket_id,
                "customer_id": cid.gather(t_who),
                "stage_id": pl.Series(t_stage, dtype=pl.String),
                "opened_at": _ts(t_open),
                "first_response_at": _ts(np.minimum(t_first, SPAN_DAYS - 1e-6)),
                "resolved_at": _ts(np.where(still_open, 0, t_resolved)),
                "entry_channel": pl.Series(entry, dtype=pl.String),
                "final_line": pl.Series(line, dtype=pl.Int64),
                "bot_resolved": pl.Series(bot_resolved),
                "contacts": pl.Series(contacts, dtype=pl.Int64),
                "reopened": pl.Series(reopened),
                "category": pl.Series(category, dtype=pl.String),
                "agent_id": agent,
                "csat": pl.Series(np.where(rated & ~still_open, t_csat, 0), dtype=pl.Int64),
            }
        )
        .with_columns(
            pl.when(pl.Series(still_open)).then(None).otherwise(pl.col("resolved_at")).alias("resolved_at"),
            pl.when(pl.col("csat") > 0).then(pl.col("csat")).alias("csat"),
        )
        .filter(pl.Series(keep_t))
    )

    e_who, e_when = events.column("who").astype(np.int64), events.column("when")
    keep_e = e_when < SPAN_DAYS
    order_idx = np.argsort(e_when[keep_e], kind="stable")
    e_sel = np.flatnonzero(keep_e)[order_idx]
    journey = pl.DataFrame(
        {
            "event_id": _ids(f"E{block:04d}", 0, len(e_sel), 7),
            "customer_id": cid.gather(e_who[e_sel]),
            "stage_id": pl.Series(events.column("stage")[e_sel], dtype=pl.String),
            "occurred_at": _ts(e_when[e_sel]),
            "touchpoint": pl.Series(events.column("touchpoint")[e_sel], dtype=pl.String),
            "action": pl.Series(events.column("action")[e_sel], dtype=pl.String),
        }
    )

    o_who, o_when = orders.column("who").astype(np.int64), orders.column("when")
    keep_o = np.flatnonzero(o_when < SPAN_DAYS)
    base = np.where(b2c[o_who[keep_o]], 35.0, 420.0)
    orders_df = pl.DataFrame(
        {
            "order_id": _ids(f"O{block:04d}", 0, len(keep_o), 7),
            "customer_id": cid.gather(o_who[keep_o]),
            "ordered_at": _ts(o_when[keep_o]),
            "amount": np.round(base * rng.lognormal(0, 0.5, len(keep_o)), 2),
        }
    )

    s_who, s_when = surveys.column("who").astype(np.int64), surveys.column("when")
    keep_s = np.flatnonzero(s_when < SPAN_DAYS)
    s_score = surveys.column("score").astype(np.int64)[keep_s]
    s_kind = surveys.column("survey")[keep_s]
    low = np.select([s_kind == "nps", s_kind == "csat"], [s_score <= 6, s_score <= 2], s_score <= 3)
    high = np.select([s_kind == "nps", s_kind == "csat"], [s_score >= 9, s_score >= 4], s_score >= 6)
    tone = np.where(low, "low", np.where(high, "high", "mid"))
    comment = np.empty(len(keep_s), dtype=object)
    for t, texts in story.COMMENTS.items():
        mask = tone == t
        comment[mask] = _pick(rng, texts, int(mask.sum()))
    comment[rng.random(len(keep_s)) < 0.6] = None
    responses = pl.DataFrame(
        {
            "response_id": _ids(f"R{block:04d}", 0, len(keep_s), 7),
            "customer_id": cid.gather(s_who[keep_s]),
            "stage_id": pl.Series(surveys.column("stage")[keep_s], dtype=pl.String),
            "survey": pl.Series(s_kind, dtype=pl.String),
            "score": pl.Series(s_score, dtype=pl.Int64),
            "responded_at": _ts(s_when[keep_s]),
            "touchpoint": pl.Series(_pick(rng, ("email", "app", "web"), len(keep_s)), dtype=pl.String),
            "comment": pl.Series(comment.tolist(), dtype=pl.String),
        }
    )

    customers = pl.DataFrame(
        {
            "customer_id": cid,
            "signup_at": _ts(signup),
            "segment": pl.Series(segment, dtype=pl.String),
            "persona": pl.Series(persona, dtype=pl.String),
            "channel": pl.Series(channel, dtype=pl.String),
            "region": pl.Series(region, dtype=pl.String),
            "plan": pl.Series(plan, dtype=pl.String),
            "churned_at": _ts(np.where(churned, churned_at, 0)),
            **_people(seed, block, cid),
        }
    ).with_columns(pl.when(pl.Series(churned)).then(pl.col("churned_at")).alias("churned_at"))
    why = _why(seed, block, cid, segment, churned, churned_at, tried, attempt_at, reached, when)
    return {
        "customers": customers,
        "journey_events": journey,
        "survey_responses": pl.concat([responses, why["exits"]], how="diagonal_relaxed"),
        "tickets": tickets,
        "orders": orders_df,
        "offers": why["offers"],
        "experiments": why["experiments"],
    }


def _why(
    seed: int,
    block: int,
    cid: pl.Series,
    segment: np.ndarray,
    churned: np.ndarray,
    churned_at: np.ndarray,
    tried: np.ndarray,
    attempt_at: np.ndarray,
    reached: np.ndarray,
    when: np.ndarray,
) -> dict[str, pl.DataFrame]:
    """Exit interviews, retention offers and experiment assignments, from a generator of their own (the other
    stories' numbers stay as they were)."""
    rng = np.random.default_rng([seed, block, 2])
    n = len(segment)
    # exit interviews, a day or two after cancelling
    leaving = np.flatnonzero(churned & (rng.random(n) < story.EXIT_SHARE))
    leave_at = churned_at[leaving] + rng.uniform(0.1, 2, len(leaving))
    keep = leave_at < SPAN_DAYS
    leaving, leave_at = leaving[keep], leave_at[keep]
    reason = _choice_by(rng, segment[leaving], story.EXIT_REASONS)
    score = np.where(np.isin(reason, ["support experience", "price"]), rng.integers(1, 3, len(leaving)),
                     rng.integers(1, 5, len(leaving)))  # fmt: skip
    comment = np.empty(len(leaving), dtype=object)
    for why, texts in story.EXIT_COMMENTS.items():
        mask = reason == why
        comment[mask] = _pick(rng, texts, int(mask.sum()))
    comment[rng.random(len(leaving)) < 0.3] = None
    exits = pl.DataFrame(
        {
            "response_id": _ids(f"X{block:04d}", 0, len(leaving), 7),
            "customer_id": cid.gather(leaving),
            "stage_id": pl.Series(["churn_attempt"] * len(leaving), dtype=pl.String),
            "survey": pl.Series([schema.EXIT_SURVEY] * len(leaving), dtype=pl.String),
            "score": pl.Series(score, dtype=pl.Int64),
            "responded_at": _ts(leave_at),
            "touchpoint": pl.Series(["email"] * len(leaving), dtype=pl.String),
            "comment": pl.Series(comment.tolist(), dtype=pl.String),
            "reason": pl.Series(reason.tolist(), dtype=pl.String),
        }
    )
    # retention offers to those who try to cancel, before they are gone
    offered = tried[rng.random(len(tried)) < story.OFFER_SHARE]
    offered_at = attempt_at[offered] + rng.uniform(0, 0.4, len(offered))
    keep = offered_at < SPAN_DAYS
    offered, offered_at = offered[keep], offered_at[keep]
    stayed = ~churned[offered]
    mix = np.where(stayed[:, None], np.array(story.OFFER_MIX["stayed"]), np.array(story.OFFER_MIX["churned"]))
    pick = (rng.random(len(offered))[:, None] > mix.cumsum(axis=1)).sum(axis=1)
    offer_type = np.array(story.OFFER_TYPES, dtype=object)[np.minimum(pick, len(story.OFFER_TYPES) - 1)]
    accepted = rng.random(len(offered)) < np.where(stayed, story.OFFER_ACCEPTED["stayed"],
                                                   story.OFFER_ACCEPTED["churned"])  # fmt: skip
    offers = pl.DataFrame(
        {
            "offer_id": _ids(f"F{block:04d}", 0, len(offered), 7),
            "customer_id": cid.gather(offered),
            "offered_at": _ts(offered_at),
            "offer_type": pl.Series(offer_type.tolist(), dtype=pl.String),
            "accepted": pl.Series(accepted, dtype=pl.Boolean),
            "channel": pl.Series([story.OFFER_CHANNELS[t] for t in offer_type], dtype=pl.String),
        }
    )
    # experiments: the checklist at onboarding (a real lift), the pricing page at the first purchase (flat)
    parts = []
    for name, _hyp, _metric, _stage, start, end, _owner in story.EXPERIMENTS:
        step = 3 if name == "onboarding-checklist" else 2
        at = when[:, step]
        eligible = np.flatnonzero((reached > step) & (at >= _days(start)) & (at < _days(end)) & (at < SPAN_DAYS))
        if name == "onboarding-checklist":
            converted = reached[eligible] >= 5
            share = converted.mean() if len(eligible) else 0.5
            lift = story.CHECKLIST_LIFT if 0 < share < 1 else 0.0
            # treatment's share is 0.5 + lift among converters and less among the others: 0.5 in all
            p_treat = np.where(converted, 0.5 + lift, 0.5 - lift * share / max(1 - share, 1e-9))
        else:
            p_treat = np.full(len(eligible), 0.5)
        variant = np.where(rng.random(len(eligible)) < p_treat, "treatment", "control")
        parts.append(
            pl.DataFrame(
                {
                    "experiment": pl.Series([name] * len(eligible), dtype=pl.String),
                    "customer_id": cid.gather(eligible),
                    "variant": pl.Series(variant.tolist(), dtype=pl.String),
                    "assigned_at": _ts(at[eligible]),
                }
            )
        )
    return {"exits": exits, "offers": offers, "experiments": pl.concat(parts)}


LANGUAGES = ("en", "ru")  # the sample company's words: English (story.py) or Russian (story_ru.py)


def generate(customers: int, seed: int, lang: str = "en") -> Iterator[tuple[str, pl.DataFrame]]:
    """Every table of the contract: the reference tables first, then the customers block by block. ``lang`` "ru"
    gives the same rows with the company's words in Russian (``story_ru``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"no sample company in {lang!r}: choose one of {', '.join(LANGUAGES)}")
    words = (lambda _table, frame: frame) if lang == "en" else story_ru.translate

    def tables() -> Iterator[tuple[str, pl.DataFrame]]:
        yield from reference_tables().items()
        for block in range((customers + BLOCK - 1) // BLOCK):
            size = min(BLOCK, customers - block * BLOCK)
            yield from generate_block(seed, block, size).items()

    for name, frame in tables():
        yield name, words(name, frame)
