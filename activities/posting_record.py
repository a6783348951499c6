"""Recording each ERP posting's status in the store, around the ERP activities' calls.

Before the call the posting exists (pending); a failed attempt leaves it retrying (attempts, last
error, next attempt) or failed; a document makes it posted with the ERP's number and time. The
activity only succeeds once the store says posted, so a worker that dies between the ERP's answer
and the store write simply retries: the retry finds the document by its external reference instead
of posting again, and records it.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.store_executor import StoreExecutor
from canonical.erp_postings import PostingDraft
from store.postings import PostingRepository

log = structlog.get_logger("o2c.erp_postings")


class PostedDocument(Protocol):
    document_number: str
    posted_at: datetime | None


D = TypeVar("D", bound=PostedDocument)
R = TypeVar("R")


def _now() -> datetime:
    return datetime.now(UTC)


async def post_recorded(
    draft: PostingDraft, store: StoreExecutor, *, find: Callable[[], Awaitable[D | None]],
    post: Callable[[], Awaitable[D]]
) -> D:
    """`find` looks the document up by its external reference; it runs on retries only, because
    only then can an earlier attempt have posted it without being able to record it."""
    info = activity.info()
    attempt = await _best_effort(store, draft, lambda repo: repo.attempt_started(draft, _now())) or info.attempt
    try:
        # Only a posting tried before can have reached the ERP without the store hearing of it.
        document = await find() if attempt > 1 else None
        if document is None:
            document = await post()
    except Exception as exc:
        now = _now()
        will_retry, next_at = next_attempt(exc, info, now)
        error = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"
        await _best_effort(
            store,
            draft,
            lambda repo: repo.attempt_failed(
                draft,
                attempt=attempt,
                error=error[:2000],
                will_retry=will_retry,
                next_attempt_at=next_at,
                at=now,
            ),
        )
        raise
    number, posted_at = document.document_number, document.posted_at or _now()
    if posted_at.tzinfo is None:  # an ERP that leaves out the offset means UTC
        posted_at = posted_at.replace(tzinfo=UTC)
    # Not best effort: the activity succeeds only once the store knows the document.
    await store.write(
        lambda session: PostingRepository(session).posted(draft, number, posted_at, attempt, _now())
    )
    return document


async def _best_effort(store: StoreExecutor, draft: PostingDraft, work: Callable[[PostingRepository], R]) -> R | None:
    """Progress notes (pending, retrying) must never hide the ERP's own outcome or error."""
    try:
        return await store.write(lambda session: work(PostingRepository(session)))
    except Exception as exc:
        log.warning("erp_posting.record_failed", reference=draft.reference, error_type=type(exc).__name__)
        return None


def next_attempt(exc: BaseException, info: activity.Info, now: datetime) -> tuple[bool, datetime | None]:
    """Whether Temporal will run this activity again after `exc`, and when (if that can be told).

    Mirrors the server's rules: non-retryable errors and types stop; so do the last allowed attempt
    and an attempt that would start after the schedule-to-close window; the delay is the error's
    own (Retry-After) or the policy's exponential backoff.
    """
    policy = info.retry_policy
    delay: timedelta | None = None
    if isinstance(exc, ApplicationError):
        if exc.non_retryable or (policy is not None and exc.type in (policy.non_retryable_error_types or ())):
            return False, None
        delay = exc.next_retry_delay
    if policy is None:
        return True, now + delay if delay else None
    if info.is_local:  # a local activity's last quick attempt hands over to a regular activity (policies.py)
        return True, now + delay if delay else None
    if policy.maximum_attempts and info.attempt >= policy.maximum_attempts:
        return False, None
    if delay is None:
        backoff = policy.initial_interval * (policy.backoff_coefficient ** (info.attempt - 1))
        delay = min(backoff, policy.maximum_interval or policy.initial_interval * 100)
    at = now + delay
    if info.schedule_to_close_timeout and at >= info.scheduled_time + info.schedule_to_close_timeout:
        return False, None
    return True, at
