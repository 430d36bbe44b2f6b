"""NEURON through PyNN's generic route (optional dependency group ``.[neuron]``)."""
