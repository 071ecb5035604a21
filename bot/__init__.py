"""Shagym: city complaints from Telegram chats."""
