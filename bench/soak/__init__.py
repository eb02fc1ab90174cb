"""The production-shaped soak: ``python -m bench.soak`` (see ``__main__``)."""
