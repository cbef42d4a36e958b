"""Outbound events to licensees: signed webhooks (at-least-once, retried with backoff) and the
polling feed `GET /api/events`. Models in marketplace/models/events.py."""
