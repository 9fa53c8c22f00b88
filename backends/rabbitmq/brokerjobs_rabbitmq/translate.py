"""Driver exceptions (aiormq, pika) turned into :mod:`brokerjobs.errors`, secrets scrubbed."""

from __future__ import annotations

import aiormq.exceptions as amq
import pika.exceptions as pex
from pika.adapters.utils.connection_workflow import (
    AMQPConnectorException,
    AMQPConnectorStackTimeout,
)

from brokerjobs.errors import (
    BackendError,
    BrokerJobsError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    ConfigurationError,
    DispatchError,
    PublishRejectedError,
    QueueNotFoundError,
)

from .settings import RabbitMQSettings


class TopologyMismatchError(BackendError, ConfigurationError, DispatchError):
    """A queue or exchange exists with other arguments than these settings declare."""


class AccessRefusedError(BackendError, ConfigurationError, DispatchError):
    """RabbitMQ refused the credentials or the permissions (fix the URL or the user's rights)."""


_AUTH_ERRORS = (
    amq.AuthenticationError,
    amq.ProbableAuthenticationError,
    amq.ChannelAccessRefused,
    amq.ConnectionNotAllowed,
    pex.ProbableAuthenticationError,
    pex.ProbableAccessDeniedError,
    pex.AuthenticationError,
)
_UNAVAILABLE = (
    AMQPConnectorException,
    amq.AMQPConnectionError,
    amq.ChannelInvalidStateError,
    amq.AMQPChannelError,
    amq.AMQPError,
    pex.AMQPConnectionError,
    pex.AMQPChannelError,
    pex.ConnectionWrongStateError,
    pex.ChannelWrongStateError,
    pex.AMQPError,
    ConnectionError,
    OSError,
    RuntimeError,
)


def blocked_error(settings: RabbitMQSettings, action: str, timeout: float) -> BrokerJobsError:
    """The error for a publish not sent because the broker blocked publishers too long."""
    return BrokerTimeoutError(
        f"{action}: RabbitMQ at {settings.safe_url} has blocked publishing for {timeout:g} s "
        "(connection.blocked: a memory or disk alarm); nothing was sent, try again later"
    )


def _reply_code(exc: BaseException) -> int | None:
    if isinstance(exc, pex.ChannelClosed | pex.ConnectionClosed):
        return int(exc.reply_code)
    if isinstance(exc, amq.ChannelNotFoundEntity):
        return 404
    if isinstance(exc, amq.ChannelPreconditionFailed):
        return 406
    return None


def _vhost_refused(exc: BaseException) -> bool:
    """Whether the broker closed the connection in answer to ``connection.open``.

    RabbitMQ does that (530 NOT_ALLOWED) when the vhost does not exist or the user may
    not use it. pika says so with ProbableAccessDeniedError; aiormq only raises an
    InvalidFrameError whose text names the frames (it keeps no reply code), so the text
    is all there is to go on.
    """
    if isinstance(exc, pex.ProbableAccessDeniedError):
        return True
    text = str(exc)
    return (
        isinstance(exc, amq.InvalidFrameError)
        and "Connection.OpenOk" in text
        and "Connection.Close" in text
    )


def translate(
    exc: BaseException,
    settings: RabbitMQSettings,
    action: str,
    *,
    queue: str | None = None,
    timeout: float | None = None,
) -> BrokerJobsError:
    """The brokerjobs error for ``exc`` raised while doing ``action`` (e.g. "publish to 'q'")."""
    if isinstance(exc, BrokerJobsError):
        return exc
    detail = settings.scrub(f"{type(exc).__name__}: {exc}")
    where = f"RabbitMQ at {settings.safe_url}"
    if isinstance(exc, TimeoutError | AMQPConnectorStackTimeout):
        # pika's stack timeout: the TCP connection opened but no AMQP handshake followed
        # within the connect timeout (a listener that is not RabbitMQ, or a stuck broker).
        limit = f" within {timeout:g} s" if timeout else ""
        return BrokerTimeoutError(
            f"{action}: no answer from {where}{limit} (broker down, blocked by a resource "
            "alarm, the network is cut, or that port is not an AMQP server); try again later"
        )
    if isinstance(exc, amq.PublishError | pex.UnroutableError):
        return PublishRejectedError(
            f"{action}: the message was returned as unroutable; is the queue declared? "
            "(run the worker once or call backend.declare(queue))"
        )
    if isinstance(exc, amq.DeliveryError | pex.NackError):
        return PublishRejectedError(
            f"{action}: {where} refused the message (negative confirm: the queue may be "
            "full or unavailable)"
        )
    if isinstance(exc, pex.ConnectionBlockedTimeout):
        return blocked_error(settings, action, settings.publish_timeout)
    if _vhost_refused(exc):
        return AccessRefusedError(
            f"{action}: vhost {settings.vhost!r} does not exist or user has no access "
            f"(user {settings.user!r}, {where}: {detail}); fix the vhost in "
            "BROKERJOBS_RABBITMQ_URL, or create it (rabbitmqctl add_vhost) and give the "
            "user permissions on it (rabbitmqctl set_permissions)"
        )
    code = _reply_code(exc)
    if code == 404:
        if queue is not None and not action.startswith("publish"):
            return QueueNotFoundError(queue, "declare it first (backend.declare or the worker)")
        return PublishRejectedError(
            f"{action}: the queue or its delay exchanges do not exist ({detail}); "
            "declare the queue first (backend.declare or the worker)"
        )
    if code == 406:
        return TopologyMismatchError(f"{action}: {where} refused a declaration ({detail})")
    if isinstance(exc, _AUTH_ERRORS) or code in (403, 530):
        return AccessRefusedError(
            f"{action}: {where} refused access ({detail}); check the user, password and "
            "virtual host permissions in BROKERJOBS_RABBITMQ_URL"
        )
    if isinstance(exc, _UNAVAILABLE):
        return BrokerUnavailableError(
            f"{action}: lost or could not open the connection to {where} ({detail}); "
            "is RabbitMQ running? (rabbitmq-server -detached)"
        )
    if isinstance(exc, Exception) and exc.__class__.__module__.split(".")[0] in (
        "aiormq",
        "pika",
        "pamqp",
    ):
        return BackendError(f"{action}: unexpected error from {where} ({detail})")
    # Not a driver exception: a bug, which must surface as itself with its traceback.
    raise exc
