"""Amazon SQS backend for brokerjobs (work in progress)."""
