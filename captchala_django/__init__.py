"""CaptchaLa for Django, with durable, race-safe checkpoints."""

__version__ = "0.1.0"
