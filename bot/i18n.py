"""Every user-facing text, in Russian, Kazakh and English; a test fails when a language lacks a key."""

from __future__ import annotations

from typing import Any

LANGUAGES: tuple[str, ...] = ("ru", "kk", "en")
DEFAULT_LANGUAGE = "ru"

CATALOG: dict[str, dict[str, str]] = {
    "card.urgent": {"ru": "🔴 СРОЧНО", "kk": "🔴 ШҰҒЫЛ", "en": "🔴 URGENT"},
    "card.title": {"ru": "Обращение №{number}", "kk": "№{number} өтініш", "en": "Complaint #{number}"},
    "card.category": {"ru": "Категория", "kk": "Санат", "en": "Category"},
    "card.district": {"ru": "Район", "kk": "Аудан", "en": "District"},
    "card.district_unknown": {"ru": "не указан", "kk": "көрсетілмеген", "en": "not given"},
    "card.author": {"ru": "Автор", "kk": "Авторы", "en": "Author"},
    "card.source": {"ru": "Источник", "kk": "Дереккөз", "en": "Source"},
    "card.source_private": {
        "ru": "личное сообщение боту",
        "kk": "ботқа жеке хабарлама",
        "en": "private message to the bot",
    },
    "card.open_original": {"ru": "открыть сообщение", "kk": "хабарламаны ашу", "en": "open the message"},
    "card.officials": {"ru": "Адресат", "kk": "Кімге", "en": "Addressed to"},
    "card.triage": {
        "ru": "⚠️ Категория определена неуверенно — проверьте",
        "kk": "⚠️ Санат сенімсіз анықталды — тексеріңіз",
        "en": "⚠️ Category uncertain — please check",
    },
    "card.photos": {"ru": "Фото: {count}", "kk": "Фото: {count}", "en": "Photos: {count}"},
    "card.location": {"ru": "Геолокация", "kk": "Геолокация", "en": "Location"},
    "card.status": {"ru": "Статус", "kk": "Мәртебесі", "en": "Status"},
    "card.edited": {"ru": "✏️ сообщение изменено", "kk": "✏️ хабарлама өзгертілді", "en": "✏️ message edited"},
    "button.take": {"ru": "✋ Взять", "kk": "✋ Алу", "en": "✋ Take"},
    "button.resolve": {"ru": "✅ Решено", "kk": "✅ Шешілді", "en": "✅ Resolved"},
    "button.reroute": {"ru": "↪️ Другому отделу", "kk": "↪️ Басқа бөлімге", "en": "↪️ Reroute"},
    "button.duplicate": {"ru": "🔁 Дубликат", "kk": "🔁 Қайталама", "en": "🔁 Duplicate"},
    "button.not_complaint": {"ru": "🚫 Не жалоба", "kk": "🚫 Шағым емес", "en": "🚫 Not a complaint"},
    "status.new": {"ru": "новое", "kk": "жаңа", "en": "new"},
    "status.queued": {"ru": "в очереди", "kk": "кезекте", "en": "queued"},
    "status.delivered": {"ru": "передано в отдел", "kk": "бөлімге жіберілді", "en": "delivered"},
    "status.in_progress": {"ru": "в работе", "kk": "жұмыста", "en": "in progress"},
    "status.resolved": {"ru": "решено", "kk": "шешілді", "en": "resolved"},
    "status.rejected": {"ru": "отклонено", "kk": "қабылданбады", "en": "rejected"},
    "status.duplicate": {"ru": "дубликат", "kk": "қайталама", "en": "duplicate"},
    "ack.forwarded": {
        "ru": "Передано в {department}, №{number}",
        "kk": "{department} жіберілді, №{number}",
        "en": "Forwarded to {department}, #{number}",
    },
    "head.urgent": {
        "ru": "🔴 Срочное обращение №{number} в вашем отделе",
        "kk": "🔴 Бөліміңізде №{number} шұғыл өтініш",
        "en": "🔴 Urgent complaint #{number} for your department",
    },
    "admin.chat_unreachable": {
        "ru": "⚠️ Бот не может писать в чат отдела «{department}» ({chat_id}): {reason}. "
        "Обращения ждут в очереди ({depth}). Добавьте бота в чат снова.",
        "kk": "⚠️ Бот «{department}» бөлімінің чатына ({chat_id}) жаза алмайды: {reason}. "
        "Өтініштер кезекте күтуде ({depth}). Ботты чатқа қайта қосыңыз.",
        "en": "⚠️ The bot cannot write to the {department} chat ({chat_id}): {reason}. "
        "Complaints wait on the queue ({depth}). Add the bot to the chat again.",
    },
    "private.greeting": {
        "ru": "Здравствуйте! Я Shagym — принимаю жалобы жителей и передаю их в нужный отдел акимата. "
        "Опишите проблему и адрес одним сообщением.",
        "kk": "Сәлеметсіз бе! Мен Shagym — тұрғындардың шағымдарын қабылдап, әкімдіктің тиісті бөліміне "
        "жіберемін. Мәселе мен мекенжайды бір хабарламамен жазыңыз.",
        "en": "Hello! I am Shagym: I take residents' complaints and pass them to the right city department. "
        "Describe the problem and the address in one message.",
    },
    "private.accepted": {
        "ru": "Принято. Номер обращения: №{number}. Передано в: {department}.",
        "kk": "Қабылданды. Өтініш нөмірі: №{number}. Жіберілді: {department}.",
        "en": "Received. Your complaint number: #{number}. Forwarded to: {department}.",
    },
    "private.not_complaint": {
        "ru": "Похоже, это не жалоба. Если есть проблема, опишите её и укажите адрес.",
        "kk": "Бұл шағымға ұқсамайды. Мәселе болса, оны сипаттап, мекенжайды жазыңыз.",
        "en": "This does not look like a complaint. If there is a problem, describe it and give the address.",
    },
    "desk.not_available": {
        "ru": "Это действие появится в следующей версии",
        "kk": "Бұл әрекет келесі нұсқада қосылады",
        "en": "This action arrives in the next version",
    },
}


def t(key: str, language: str | None = None, **values: Any) -> str:
    """The text for `key` in `language` (Russian when the language is unknown), formatted with values."""
    entry = CATALOG[key]
    template = entry.get(language or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


def normalize_language(code: str | None) -> str:
    """Map a Telegram language_code (e.g. "kk", "ru-RU", "en-GB") to one of ours, or Russian."""
    if not code:
        return DEFAULT_LANGUAGE
    base = code.split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE
