"""Amazon SQS backend for brokerjobs (boto3): visibility-timeout retries, redrive DLQs.

Installed as the ``sqs`` entry point of ``brokerjobs.backends``.
"""

from brokerjobs_sqs.backend import SQSBackend
from brokerjobs_sqs.settings import SQSSettings
from brokerjobs_sqs.translate import SQSAccessDeniedError

__all__ = ["SQSAccessDeniedError", "SQSBackend", "SQSSettings"]
