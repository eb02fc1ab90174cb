"""CaptchaLa for Django, with durable, race-safe checkpoints."""

__version__ = "0.3.0.dev0"
