"""The sample company: stages, personas, targets, the journey maps and the business events of its story.

Everything here is reference data, small and hand-written; ``generate.py`` draws the customers' rows.
"""

from __future__ import annotations

from datetime import datetime

# The data covers START (inclusive) to END (exclusive): 22 months, so that the last two complete half-years
# (2025-H2 and 2026-H1) are both in it.
START = datetime(2025, 1, 1)
END = datetime(2026, 11, 1)

RELEASE_5 = datetime(2026, 2, 10)  # product change: NPS drops after it
WIN_BACK = datetime(2026, 1, 15)  # reactivation campaign that works
PRICE_CHANGE = datetime(2026, 6, 1)  # B2C price change: unsubscribe spike in B2C
PRICE_SEGMENT = "B2C"

# stage_id, name, in_funnel, description
STAGES: list[tuple[str, str, bool, str]] = [
    ("awareness", "Awareness", True, "Hears of the product: ads, search, social, word of mouth"),
    ("consideration", "Consideration", True, "Compares offers, reads reviews, tries the demo"),
    ("decision", "Decision (first purchase)", True, "Chooses a plan and pays for the first time"),
    ("onboarding", "Onboarding", True, "Sets up the account and gets first value"),
    ("regular_use", "Regular use (repeat purchase)", True, "Uses the product and buys again"),
    ("support", "Support contact", False, "Asks the bot, chat, phone or e-mail for help"),
    ("inactivity", "Inactivity", False, "Stops logging in, ignores or unsubscribes from e-mails"),
    ("churn_attempt", "Cancellation attempt", False, "Opens the cancellation flow or asks to cancel"),
    ("reactivation", "Reactivation", False, "Comes back after cancelling, often through a win-back offer"),
    ("loyalty", "Loyalty (advocacy)", True, "Recommends the product, writes reviews, upgrades"),
]
FUNNEL = [s[0] for s in STAGES if s[2]]
# how the sample company's product events (as PostHog or Segment would send them) are journey stages: the rules the
# CX team keeps on Maps and targets (event or pattern, a property and its value, the stage)
STAGE_RULES: list[tuple[str, str, str, str]] = [
    ("ad_clicked", "", "", "awareness"),
    ("pricing_viewed", "", "", "consideration"),
    ("demo_*", "", "", "consideration"),
    ("checkout_completed", "", "", "decision"),
    ("checkout_completed", "plan", "trial", "consideration"),
    ("onboarding_*", "", "", "onboarding"),
    ("report_exported", "", "", "regular_use"),
    ("support_chat_opened", "", "", "support"),
    ("cancel_flow_opened", "", "", "churn_attempt"),
    ("review_written", "", "", "loyalty"),
]
# the CX team's audiences (data_access.audiences): groups by behaviour, computed as of the end of the data
AUDIENCES: list[tuple[str, str, dict]] = [
    (
        "at-risk-b2b",
        "At risk B2B",
        {"all": [{"risk": {"op": "gte", "value": 3}}, {"attr": "segment", "op": "eq", "value": "B2B"}]},
    ),
    (
        "detractors-90d",
        "Detractors in the last 90 days",
        {"answers": {"survey": "nps", "score": {"op": "lte", "value": 6}}, "window": {"last_days": 90}},
    ),
    (
        "onboarded-not-using",
        "Onboarded, not in regular use",
        {
            "all": [
                {"events": {"stage": "onboarding"}},
                {"events": {"stage": "regular_use"}, "count": {"op": "eq", "value": 0}},
            ]
        },
    ),
]
# the journey map's two phases: up to and including the first purchase, and after it
BEFORE_PURCHASE, AFTER_PURCHASE = "Before the first purchase", "After the first purchase"
FIRST_PURCHASE = "decision"
PHASES = {
    s[0]: BEFORE_PURCHASE if i <= [t[0] for t in STAGES].index(FIRST_PURCHASE) else AFTER_PURCHASE
    for i, s in enumerate(STAGES)
}

SEGMENTS = {"B2C": 0.75, "B2B": 0.25}
PERSONAS = {
    "B2C": {"Busy parent": 0.4, "Bargain hunter": 0.35, "Tech enthusiast": 0.25},
    "B2B": {"Procurement manager": 0.5, "Team lead": 0.5},
}
CHANNELS = {
    "B2C": {"ads": 0.35, "organic": 0.25, "social": 0.25, "referral": 0.15},
    "B2B": {"sales": 0.4, "partner": 0.3, "organic": 0.2, "referral": 0.1},
}
PLANS = {"B2C": {"basic": 0.55, "plus": 0.3, "premium": 0.15}, "B2B": {"team": 0.7, "enterprise": 0.3}}
REGIONS = {"EU": 0.45, "NA": 0.3, "APAC": 0.15, "LATAM": 0.1}

# Probability of reaching the next funnel step, by segment:
# awareness->consideration, ->decision, ->onboarding, ->regular_use, ->loyalty.
# B2C onboarding -> regular use is the planted leak.
STEP_P = {"B2C": (0.72, 0.55, 0.93, 0.38, 0.68), "B2B": (0.80, 0.50, 0.95, 0.82, 0.68)}
CHANNEL_LIFT = {"referral": 0.08, "partner": 0.05, "sales": 0.04, "organic": 0.02, "ads": -0.04, "social": -0.02}

TOUCHPOINTS = {
    "awareness": ("ads", "social", "web"),
    "consideration": ("web", "email", "chat"),
    "decision": ("web", "app", "store"),
    "onboarding": ("app", "email", "web"),
    "regular_use": ("app", "web"),
    "support": ("chat", "phone", "email", "web"),
    "inactivity": ("email", "app"),
    "churn_attempt": ("web", "phone", "chat"),
    "reactivation": ("email", "app"),
    "loyalty": ("social", "web", "app"),
}
ACTIONS = {
    "awareness": ("ad_click", "page_view", "social_mention"),
    "consideration": ("pricing_view", "demo_call", "review_read"),
    "decision": ("purchase",),
    "onboarding": ("account_setup", "first_project", "tutorial"),
    "regular_use": ("login", "purchase", "feature_use"),
    "support": ("ticket_opened",),
    "inactivity": ("no_login_30d", "email_ignored"),
    "churn_attempt": ("cancel_page_view", "cancel_request"),
    "reactivation": ("win_back_offer_accepted", "login"),
    "loyalty": ("referral_sent", "review_written", "upgrade"),
}

TARGETS: list[tuple[str, str, float, float]] = [
    ("*", "csat", 80.0, 70.0),
    ("*", "nps", 30.0, 10.0),
    ("*", "ces", 5.5, 4.5),
    ("*", "fcr", 75.0, 65.0),
    ("onboarding", "csat", 85.0, 75.0),
    ("support", "fcr", 80.0, 70.0),
    # the journey map's funnel lanes: a share of a step's customers who reach the next one
    ("consideration", "conversion", 55.0, 45.0),
    ("decision", "conversion", 90.0, 80.0),
    ("onboarding", "conversion", 60.0, 45.0),
]

BUSINESS_EVENTS: list[tuple[datetime, str, str, str | None]] = [
    (datetime(2025, 4, 1), "Onboarding e-mails v2", "New welcome e-mail series", None),
    (WIN_BACK, "Win-back campaign", "Personal offer to customers who cancelled", None),
    (RELEASE_5, "Release 5.0", "New interface and navigation; old reports removed", None),
    (PRICE_CHANGE, "Price change B2C", "Basic plan +20%", PRICE_SEGMENT),
]

COMMENTS = {
    "low": (
        "Setup took far too long",
        "Could not find the old reports after the update",
        "Charged twice, nobody helped",
        "The bot kept sending me in circles",
        "Too expensive for what it does",
        "Nobody called back",
    ),
    "mid": ("It works, mostly", "Fine, but the app is slow", "Okay once you get used to it"),
    "high": (
        "Great support, fixed at once",
        "Love the new features",
        "Easy to set up",
        "Recommended it to my friends",
    ),
}

# One line per lane and stage: actions, thoughts, feelings, touchpoints, company_actions, pains, opportunities,
# departments, jtbd, moments_of_truth, expectations.
MAP_TEXT: dict[str, tuple[str, ...]] = {
    "awareness": (
        "Sees an ad, searches for solutions",
        "Could this solve my problem?",
        "Curious",
        "Ads, social, search",
        "Campaigns, content",
        "Too many similar offers",
        "Clear promise in one sentence",
        "Marketing",
        "Find a tool for my problem",
        "First impression of the brand",
        "Relevant, honest message",
    ),
    "consideration": (
        "Compares plans, reads reviews, books a demo",
        "Is it worth the price?",
        "Hopeful but cautious",
        "Website, reviews, demo call",
        "Demo, comparison pages",
        "Pricing is hard to compare",
        "Price calculator, social proof",
        "Marketing, Sales",
        "Choose with confidence",
        "The demo",
        "Transparent pricing",
    ),
    "decision": (
        "Chooses a plan and pays",
        "I hope I chose right",
        "Excited, a little anxious",
        "Checkout, app store",
        "Checkout, welcome e-mail",
        "Payment errors, unclear terms",
        "One-page checkout",
        "Sales, Finance",
        "Start quickly",
        "Payment goes through",
        "No surprises on the bill",
    ),
    "onboarding": (
        "Creates the account, imports data",
        "Why is this so complicated?",
        "Frustrated when stuck",
        "App, e-mails, help centre",
        "Setup wizard, tutorials",
        "Long setup, confusing wizard",
        "Guided setup, a call for B2B",
        "Product, Customer Success",
        "Get first value fast",
        "First success in the product",
        "Ready in ten minutes",
    ),
    "regular_use": (
        "Logs in, uses features, buys again",
        "This saves me time",
        "Satisfied",
        "App, web",
        "Feature releases, tips",
        "Changes to familiar screens",
        "Announce changes before they land",
        "Product",
        "Do my job every week",
        "A release that changes the workflow",
        "Stable and fast",
    ),
    "support": (
        "Asks the bot, chats, calls",
        "Will anyone actually help?",
        "Annoyed, impatient",
        "Bot, chat, phone, e-mail",
        "Three support lines",
        "Repeating the story to each line",
        "Hand-off with context, callback",
        "Support",
        "Get my problem solved",
        "First contact resolves it",
        "One contact, quick answer",
    ),
    "inactivity": (
        "Stops logging in, ignores e-mails",
        "I do not need this any more",
        "Indifferent",
        "E-mail, push",
        "Reminder e-mails",
        "Irrelevant messages",
        "Usage-based nudges",
        "Marketing, Customer Success",
        "Spend less time on tools",
        "Noticing the silence early",
        "Only useful messages",
    ),
    "churn_attempt": (
        "Opens the cancellation page",
        "Is there anything better?",
        "Disappointed",
        "Web, phone",
        "Retention offer",
        "Cancellation is hidden",
        "Honest exit survey, pause option",
        "Customer Success",
        "Stop paying for what I do not use",
        "The retention conversation",
        "Easy, respectful exit",
    ),
    "reactivation": (
        "Accepts an offer, logs in again",
        "Maybe they fixed it",
        "Sceptical",
        "E-mail, app",
        "Win-back campaign",
        "Nothing has changed",
        "Show what is new since they left",
        "Marketing",
        "Get value again",
        "The first session after return",
        "Recognised as a returning customer",
    ),
    "loyalty": (
        "Recommends, writes reviews, upgrades",
        "I am proud of using this",
        "Delighted",
        "Social, referral programme",
        "Referral rewards, community",
        "Rewards are hard to claim",
        "Ambassador programme",
        "Marketing, Product",
        "Share what works for me",
        "Being asked for advice",
        "Recognition",
    ),
}
PERSONA_FEELINGS = {
    "Busy parent": "has no time to spare",
    "Bargain hunter": "watches every cent",
    "Tech enthusiast": "wants the newest features",
    "Procurement manager": "must justify the spend",
    "Team lead": "needs the team on board",
}

# Made-up people for the customers' names and e-mails (at example.com, a domain reserved for examples).
FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kira", "Liam", "Maya", "Nils", "Olga", "Pavel", "Rosa", "Sam", "Tara", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Novak", "Berg", "Costa", "Duval", "Evans", "Fischer", "Garcia", "Horvat", "Ivanova", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Nagy", "Olsen", "Petrov", "Rossi", "Schmidt", "Tanaka", "Weber",
)  # fmt: skip

# --- Why customers leave, what won them back (exit interviews, retention offers, experiments) ----------------------
# Exit reasons by segment: price leads among B2C (the small customers of the sample), missing features among B2B.
EXIT_REASONS = {
    "B2C": {
        "price": 0.38,
        "missing feature": 0.1,
        "support experience": 0.14,
        "moved to competitor": 0.16,
        "no longer needed": 0.17,
        "other": 0.05,
    },
    "B2B": {
        "price": 0.14,
        "missing feature": 0.33,
        "support experience": 0.22,
        "moved to competitor": 0.18,
        "no longer needed": 0.08,
        "other": 0.05,
    },
}
EXIT_SHARE = 0.6  # of the customers who cancel, the share who answer the exit interview
EXIT_COMMENTS = {
    "price": ("Too expensive after the price change", "A cheaper tool does the same", "Could not justify the cost"),
    "missing feature": ("No integration with our CRM", "The old reports never came back", "Missing team permissions"),
    "support experience": ("Nobody called back", "The bot kept sending me in circles", "Three lines, no answer"),
    "moved to competitor": ("Switched to a competitor with a better app", "Our group standardised on another tool"),
    "no longer needed": ("The project ended", "We closed that part of the business"),
    "other": ("Personal reasons", "Just trying other things"),
}
# Retention offers to customers who try to cancel: the success-team call keeps far more of them than the discount.
OFFER_SHARE = 0.75  # of cancellation attempts, the share that get an offer
OFFER_TYPES = ("discount", "plan change", "success call")
OFFER_MIX = {"churned": (0.45, 0.35, 0.2), "stayed": (0.22, 0.3, 0.48)}  # offer type by what happened next
OFFER_ACCEPTED = {"churned": 0.25, "stayed": 0.8}
OFFER_CHANNELS = {"discount": "e-mail", "plan change": "in-app", "success call": "phone"}
# experiment, hypothesis, primary metric, stage, start, end, owner
EXPERIMENTS = [
    (
        "onboarding-checklist",
        "A setup checklist in the first session gets more customers from onboarding to regular use",
        "conversion",
        "onboarding",
        datetime(2025, 7, 1),
        datetime(2026, 6, 30),
        "Product",
    ),
    (
        "pricing-page-v2",
        "A simpler pricing page keeps more first-time buyers for 90 days",
        "retention_90d",
        None,
        datetime(2025, 7, 1),
        datetime(2026, 6, 30),
        "Marketing",
    ),
]
CHECKLIST_LIFT = 0.06  # the real one: treatment's share among those who convert is 0.5 + this
