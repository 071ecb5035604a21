"""The domain: complaints and their lifecycle, events, mentions, deadlines, button data; no framework."""
