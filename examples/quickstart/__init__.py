"""The quick-start service: two jobs and a producer that dispatches them in a loop."""
