"""quotadesk: the billing and support desk of an AI API platform."""

__version__ = "0.1.0"
