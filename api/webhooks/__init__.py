"""Webhooks both ways: signed events from the fulfilment node (and their dead letters), and the
endpoints outbound events are delivered to."""
