"""Complaint classification: complaint or not, category, urgency, district, language."""

from bot.classifier.base import Classification, Classifier, MessageContext
from bot.classifier.engine import ModelClassifier
from bot.classifier.factory import build_classifier
from bot.classifier.language import detect_language
from bot.classifier.places import load_district_geojson

__all__ = [
    "Classification",
    "Classifier",
    "MessageContext",
    "ModelClassifier",
    "build_classifier",
    "detect_language",
    "load_district_geojson",
]
