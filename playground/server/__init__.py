"""The room server: ``nn-playground serve``, the idle watch, and the load test."""
