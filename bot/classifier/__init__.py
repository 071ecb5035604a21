"""Complaint classification: complaint or not, category, urgency, district, language."""

from bot.classifier.base import Classification, Classifier, MessageContext

__all__ = ["Classification", "Classifier", "MessageContext"]
