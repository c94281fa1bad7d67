"""The sample company in Russian (``seed --lang ru``): the same customers, rows and planted stories as ``story.py``,
with the company's own words in Russian: stage names and descriptions, personas, channels, plans, regions,
touchpoints, the journey maps, comments, business events, offers, experiments and the customers' names.

What the data contract fixes stays as it is (stage ids, segments B2B/B2C, survey kinds, exit reasons, ticket
categories and entry channels, event actions, experiment variants): queries and the planted stories key on them.
"""

from __future__ import annotations

import polars as pl

from sample_data import story

STAGE_NAMES = {
    "Awareness": "Осведомлённость",
    "Consideration": "Рассмотрение",
    "Decision (first purchase)": "Решение (первая покупка)",
    "Onboarding": "Адаптация",
    "Regular use (repeat purchase)": "Регулярное использование (повторные покупки)",
    "Support contact": "Обращение в поддержку",
    "Inactivity": "Неактивность",
    "Cancellation attempt": "Попытка отказа",
    "Reactivation": "Реактивация",
    "Loyalty (advocacy)": "Лояльность (рекомендации)",
}
STAGE_DESCRIPTIONS = {
    "Hears of the product: ads, search, social, word of mouth": (
        "Узнаёт о продукте: реклама, поиск, соцсети, сарафанное радио"
    ),
    "Compares offers, reads reviews, tries the demo": "Сравнивает предложения, читает отзывы, пробует демо",
    "Chooses a plan and pays for the first time": "Выбирает тариф и платит впервые",
    "Sets up the account and gets first value": "Настраивает аккаунт и получает первую пользу",
    "Uses the product and buys again": "Пользуется продуктом и покупает снова",
    "Asks the bot, chat, phone or e-mail for help": "Просит помощи у бота, в чате, по телефону или e-mail",
    "Stops logging in, ignores or unsubscribes from e-mails": "Перестаёт заходить, игнорирует письма или отписывается",
    "Opens the cancellation flow or asks to cancel": "Открывает страницу отказа или просит отключить",
    "Comes back after cancelling, often through a win-back offer": (
        "Возвращается после отказа, часто по предложению о возврате"
    ),
    "Recommends the product, writes reviews, upgrades": "Рекомендует продукт, пишет отзывы, переходит на тариф выше",
}
PHASES = {story.BEFORE_PURCHASE: "До первой покупки", story.AFTER_PURCHASE: "После первой покупки"}
PERSONAS = {
    "Busy parent": "Занятой родитель",
    "Bargain hunter": "Охотник за скидками",
    "Tech enthusiast": "Энтузиаст технологий",
    "Procurement manager": "Менеджер по закупкам",
    "Team lead": "Руководитель команды",
}
PERSONA_FEELINGS = {
    "has no time to spare": "времени в обрез",
    "watches every cent": "считает каждую копейку",
    "wants the newest features": "хочет самых новых функций",
    "must justify the spend": "должен обосновать расходы",
    "needs the team on board": "нужна поддержка команды",
}
CHANNELS = {
    "ads": "реклама",
    "organic": "органика",
    "social": "соцсети",
    "referral": "рекомендации",
    "sales": "отдел продаж",
    "partner": "партнёры",
}
PLANS = {
    "basic": "Базовый",
    "plus": "Плюс",
    "premium": "Премиум",
    "team": "Командный",
    "enterprise": "Корпоративный",
}
REGIONS = {"EU": "Центр", "NA": "Северо-Запад", "APAC": "Сибирь и Дальний Восток", "LATAM": "Юг"}
TOUCHPOINTS = {
    "ads": "реклама",
    "app": "приложение",
    "chat": "чат",
    "email": "e-mail",
    "phone": "телефон",
    "social": "соцсети",
    "store": "магазин",
    "web": "сайт",
}
EVENTS = {
    "Onboarding e-mails v2": "Приветственные письма v2",
    "Win-back campaign": "Кампания по возврату клиентов",
    "Release 5.0": "Релиз 5.0",
    "Price change B2C": "Изменение цен B2C",
    "New welcome e-mail series": "Новая серия приветственных писем",
    "Personal offer to customers who cancelled": "Персональное предложение клиентам, которые отказались",
    "New interface and navigation; old reports removed": "Новый интерфейс и навигация; старые отчёты убраны",
    "Basic plan +20%": "Базовый тариф +20%",
}
COMMENTS = {
    "Setup took far too long": "Настройка заняла слишком много времени",
    "Could not find the old reports after the update": "После обновления не нашёл старые отчёты",
    "Charged twice, nobody helped": "Списали деньги дважды, никто не помог",
    "The bot kept sending me in circles": "Бот гонял меня по кругу",
    "Too expensive for what it does": "Слишком дорого для того, что он умеет",
    "Nobody called back": "Никто не перезвонил",
    "It works, mostly": "В целом работает",
    "Fine, but the app is slow": "Нормально, но приложение тормозит",
    "Okay once you get used to it": "Терпимо, когда привыкнешь",
    "Great support, fixed at once": "Отличная поддержка, всё исправили сразу",
    "Love the new features": "Нравятся новые функции",
    "Easy to set up": "Легко настроить",
    "Recommended it to my friends": "Посоветовал друзьям",
    "Too expensive after the price change": "Слишком дорого после повышения цен",
    "A cheaper tool does the same": "Инструмент подешевле делает то же самое",
    "Could not justify the cost": "Не смог обосновать расходы",
    "No integration with our CRM": "Нет интеграции с нашей CRM",
    "The old reports never came back": "Старые отчёты так и не вернули",
    "Missing team permissions": "Нет прав доступа для команды",
    "Three lines, no answer": "Три линии поддержки, а ответа нет",
    "Switched to a competitor with a better app": "Перешли к конкуренту с более удобным приложением",
    "Our group standardised on another tool": "Наша группа компаний перешла на другой инструмент",
    "The project ended": "Проект закончился",
    "We closed that part of the business": "Мы закрыли это направление бизнеса",
    "Personal reasons": "Личные причины",
    "Just trying other things": "Просто пробую другое",
}
OFFERS = {"discount": "скидка", "plan change": "смена тарифа", "success call": "звонок менеджера"}
OFFER_CHANNELS = {"e-mail": "e-mail", "in-app": "в приложении", "phone": "телефон"}
EXPERIMENTS = {
    "A setup checklist in the first session gets more customers from onboarding to regular use": (
        "Чек-лист настройки в первой сессии переводит больше клиентов от адаптации к регулярному использованию"
    ),
    "A simpler pricing page keeps more first-time buyers for 90 days": (
        "Более простая страница цен удерживает больше новых покупателей на 90 дней"
    ),
    "Product": "Продукт",
    "Marketing": "Маркетинг",
}
FIRST_NAMES = dict(
    zip(
        story.FIRST_NAMES,
        (
            "Анна", "Борис", "Вера", "Давид", "Елена", "Фарид", "Галина", "Глеб", "Инна", "Иван",
            "Кира", "Лев", "Майя", "Никита", "Ольга", "Павел", "Роза", "Семён", "Таисия", "Юсуф",
        ),
        strict=True,
    )
)  # fmt: skip
LAST_NAMES = dict(  # surnames that are the same for women and men
    zip(
        story.LAST_NAMES,
        (
            "Шмидт", "Вебер", "Фишер", "Ким", "Цой", "Пак", "Надь", "Танака", "Коваль", "Мельник",
            "Ткач", "Кравец", "Лях", "Гуревич", "Левит", "Бондаренко", "Шевченко", "Гончаренко", "Остапчук",
            "Ковальчук",
        ),
        strict=True,
    )
)  # fmt: skip

# One line per lane and stage, in the order of story.MAP_TEXT (schema.MAP_LANES).
MAP_TEXT: dict[str, tuple[str, ...]] = {
    "awareness": (
        "Видит рекламу, ищет решения",
        "Решит ли это мою задачу?",
        "Любопытство",
        "Реклама, соцсети, поиск",
        "Кампании, контент",
        "Слишком много похожих предложений",
        "Понятное обещание в одном предложении",
        "Маркетинг",
        "Найти инструмент для своей задачи",
        "Первое впечатление о бренде",
        "Уместное, честное сообщение",
    ),
    "consideration": (
        "Сравнивает тарифы, читает отзывы, записывается на демо",
        "Стоит ли это своих денег?",
        "Надежда и осторожность",
        "Сайт, отзывы, демо-звонок",
        "Демо, страницы сравнения",
        "Тарифы трудно сравнить",
        "Калькулятор цены, отзывы клиентов",
        "Маркетинг, продажи",
        "Выбрать уверенно",
        "Демо",
        "Прозрачные цены",
    ),
    "decision": (
        "Выбирает тариф и платит",
        "Надеюсь, я не ошибся",
        "Воодушевление и лёгкая тревога",
        "Оформление заказа, магазин приложений",
        "Оформление заказа, приветственное письмо",
        "Ошибки оплаты, непонятные условия",
        "Оформление заказа на одной странице",
        "Продажи, финансы",
        "Быстро начать",
        "Оплата проходит",
        "Никаких сюрпризов в счёте",
    ),
    "onboarding": (
        "Создаёт аккаунт, импортирует данные",
        "Почему всё так сложно?",
        "Раздражение, когда застревает",
        "Приложение, письма, справочный центр",
        "Мастер настройки, обучающие материалы",
        "Долгая настройка, запутанный мастер",
        "Настройка с подсказками, звонок для B2B",
        "Продукт, клиентский успех",
        "Быстро получить первую пользу",
        "Первый успех в продукте",
        "Готово за десять минут",
    ),
    "regular_use": (
        "Заходит, пользуется функциями, покупает снова",
        "Это экономит мне время",
        "Удовлетворение",
        "Приложение, сайт",
        "Новые функции, советы",
        "Изменения в привычных экранах",
        "Предупреждать об изменениях заранее",
        "Продукт",
        "Делать свою работу каждую неделю",
        "Релиз, меняющий привычный процесс",
        "Стабильно и быстро",
    ),
    "support": (
        "Спрашивает бота, пишет в чат, звонит",
        "Мне вообще кто-нибудь поможет?",
        "Досада, нетерпение",
        "Бот, чат, телефон, e-mail",
        "Три линии поддержки",
        "Пересказывать историю каждой линии",
        "Передача с контекстом, обратный звонок",
        "Поддержка",
        "Решить свою проблему",
        "Первый контакт решает вопрос",
        "Один контакт, быстрый ответ",
    ),
    "inactivity": (
        "Перестаёт заходить, игнорирует письма",
        "Мне это больше не нужно",
        "Равнодушие",
        "E-mail, push-уведомления",
        "Письма-напоминания",
        "Нерелевантные сообщения",
        "Подсказки по использованию",
        "Маркетинг, клиентский успех",
        "Тратить меньше времени на инструменты",
        "Вовремя заметить тишину",
        "Только полезные сообщения",
    ),
    "churn_attempt": (
        "Открывает страницу отказа",
        "Есть ли что-то лучше?",
        "Разочарование",
        "Сайт, телефон",
        "Предложение по удержанию",
        "Отказ спрятан",
        "Честный опрос при уходе, возможность паузы",
        "Клиентский успех",
        "Перестать платить за то, чем не пользуюсь",
        "Разговор об удержании",
        "Простой и уважительный уход",
    ),
    "reactivation": (
        "Принимает предложение, снова заходит",
        "Может, они всё исправили",
        "Скепсис",
        "E-mail, приложение",
        "Кампания по возврату",
        "Ничего не изменилось",
        "Показать, что нового с момента ухода",
        "Маркетинг",
        "Снова получать пользу",
        "Первая сессия после возвращения",
        "Узнают как вернувшегося клиента",
    ),
    "loyalty": (
        "Рекомендует, пишет отзывы, переходит на тариф выше",
        "Горжусь, что пользуюсь этим",
        "Восторг",
        "Соцсети, реферальная программа",
        "Бонусы за рекомендации, сообщество",
        "Бонусы трудно получить",
        "Программа амбассадоров",
        "Маркетинг, продукт",
        "Делиться тем, что работает",
        "Когда просят совета",
        "Признание",
    ),
}
_MAP_LINES = {
    english: russian
    for stage, texts in story.MAP_TEXT.items()
    for english, russian in zip(texts, MAP_TEXT[stage], strict=True)
}


def _map_text(text: str) -> str:
    """A map cell: a line of the map, with "; " and the persona's feeling after it in the feelings lane."""
    line, _sep, feeling = text.partition("; ")
    russian = _MAP_LINES.get(line, line)
    return f"{russian}; {PERSONA_FEELINGS.get(feeling, feeling)}" if feeling else russian


def _map_name(name: str) -> str:
    """ "Busy parent (B2C) - current state" -> "Занятой родитель (B2C) — текущее состояние"."""
    persona, _sep, rest = name.partition(" (")
    segment = rest.removesuffix(") - current state")
    return f"{PERSONAS.get(persona, persona)} ({segment}) — текущее состояние"


def _person(name: str) -> str:
    first, _sep, last = name.partition(" ")
    return f"{FIRST_NAMES.get(first, first)} {LAST_NAMES.get(last, last)}"


# table -> column -> the Russian of each English value (a dict) or of any value (a function)
WORDS: dict[str, dict[str, dict[str, str] | object]] = {
    "stages": {"name": STAGE_NAMES, "description": STAGE_DESCRIPTIONS, "phase": PHASES},
    "customers": {"persona": PERSONAS, "channel": CHANNELS, "plan": PLANS, "region": REGIONS, "name": _person},
    "journey_events": {"touchpoint": TOUCHPOINTS},
    "survey_responses": {"touchpoint": TOUCHPOINTS, "comment": COMMENTS},
    "journey_map": {"map": _map_name, "text": _map_text},
    "business_events": {"name": EVENTS, "description": EVENTS},
    "offers": {"offer_type": OFFERS, "channel": OFFER_CHANNELS},
    "experiment_info": {"hypothesis": EXPERIMENTS, "owner": EXPERIMENTS},
}


def translate(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` of ``table`` with the company's own words in Russian; every number and key as generated."""
    columns = WORDS.get(table, {})
    changed = []
    for column, words in columns.items():
        if column not in frame.columns:
            continue
        values = frame[column].drop_nulls().unique().to_list()
        mapping = {v: words.get(v, v) for v in values} if isinstance(words, dict) else {v: words(v) for v in values}
        changed.append(pl.col(column).replace(mapping))
    return frame.with_columns(changed) if changed else frame


AUDIENCE_NAMES = {
    "At risk B2B": "B2B под угрозой",
    "Detractors in the last 90 days": "Критики за последние 90 дней",
    "Onboarded, not in regular use": "Прошли адаптацию, но не пользуются регулярно",
}


def audiences() -> list[tuple[str, str, dict]]:
    """The sample company's audiences with their names in Russian (keys and rules as they are)."""
    return [(key, AUDIENCE_NAMES.get(name, name), rule) for key, name, rule in story.AUDIENCES]
