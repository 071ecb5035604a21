"""The composition root: builds config, engine, Redis, bot and scheduler, and runs them."""
