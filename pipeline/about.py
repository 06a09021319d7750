__title__ = "tsunagu"
__version__ = "0.1.0"
