"""Polarity lexicons and the code that builds them."""
