"""hpsearch: honest hyperparameter search for deep learning in genomic prediction."""

__version__ = "0.1.0"
