"""gencommons: an open toolkit for building generative AI in the open."""

__version__ = "0.1.0"
