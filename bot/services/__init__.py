"""Use cases: intake and duplicates, the desk, residents, notices, digests, escalation, retention."""
