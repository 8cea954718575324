"""Providers make media. Every one implements the one seam in ``base.Provider``: upload, submit, poll, fetch, cancel."""

from renderer.providers.base import InputFile, Job, JobRequest, JobState, Provider, ProviderContext

__all__ = ["InputFile", "Job", "JobRequest", "JobState", "Provider", "ProviderContext"]
