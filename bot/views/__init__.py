"""What people read: cards, digest texts, the texts in three languages."""
