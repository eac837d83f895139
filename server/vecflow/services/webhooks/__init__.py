"""Webhooks: registering endpoints (service), signing deliveries the Standard Webhooks way (signing), and the
background loop that claims due deliveries from the outbox and POSTs them (deliverer). The outbox rows are
written by vecflow.storage.webhooks, in the transactions of the changes they report."""

from vecflow.services.webhooks.deliverer import DeliverySettings, WebhookDeliverer
from vecflow.services.webhooks.service import WebhookService

__all__ = ["DeliverySettings", "WebhookDeliverer", "WebhookService"]
