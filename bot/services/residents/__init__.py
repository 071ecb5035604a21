"""The residents' front office: filing a complaint in a private chat, following it, confirming the fix.

Plain use cases: they take normalized events and return `Reply` objects; handlers send them.
The draft being filed lives in the `conversations` table, so it survives a restart and behaves the
same with or without Redis.
"""

from bot.services.residents.drafts import DraftState
from bot.services.residents.notifier import ResidentNotifier
from bot.services.residents.office import ResidentOffice
from bot.services.residents.reply import Reply

__all__ = ["DraftState", "Reply", "ResidentNotifier", "ResidentOffice"]
