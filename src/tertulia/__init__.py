"""Tertulia: real-time group chat over TLS.

Layers (imports flow downward only): ``gui``/``cli`` -> ``client``/``server`` -> ``transport``
-> ``proto``. See ``DEVELOPING.md``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
