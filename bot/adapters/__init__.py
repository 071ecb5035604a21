"""Telegram framework adapters: each implements bot.telegram.TelegramGateway."""
