"""structlog JSON logging for the API process.

What may be logged is decided at the call sites: ids, statuses, amounts and durations. API keys,
request bodies, customer name, e-mail, address and payment tokens never are.
"""

import logging

import structlog

_configured = False


def configure_logging(level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        # Not cached: the API logs little, and uncached loggers follow reconfiguration (tests capture them).
        cache_logger_on_first_use=False,
    )
    _configured = True
