"""Fakes for tests, in one place: a paid provider with an in-memory job store (``providers``), httpx
MockTransport handlers (``transports``) and builders of requests and inputs (``requests``)."""
