"""RabbitMQ backend for brokerjobs (work in progress)."""
