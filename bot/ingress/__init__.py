"""How updates arrive: long polling and the webhook, into the inbox."""
