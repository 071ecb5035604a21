"""In-process fakes of external services used by the end-to-end tests."""

from tests.fakes.bot_api import (
    BotAPIError,
    FakeBotAPI,
    FloodLimits,
    RequestRecord,
    SentCall,
    StoredFile,
    UploadedFile,
    WebhookDelivery,
    auto_entities,
    bot_command_entities,
    entity_text,
    mention_entities,
    parse_html,
    text_mention_entity,
    utf16_len,
)

__all__ = [
    "BotAPIError",
    "FakeBotAPI",
    "FloodLimits",
    "RequestRecord",
    "SentCall",
    "StoredFile",
    "UploadedFile",
    "WebhookDelivery",
    "auto_entities",
    "bot_command_entities",
    "entity_text",
    "mention_entities",
    "parse_html",
    "text_mention_entity",
    "utf16_len",
]
