"""pynn-microcircuit: the Potjans & Diesmann (2014) microcircuit on any PyNN backend."""

__version__ = "0.1.0"
