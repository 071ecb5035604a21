"""What happens for each kind of Telegram event; framework-agnostic (never imports a Telegram library)."""
