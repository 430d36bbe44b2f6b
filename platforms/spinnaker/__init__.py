"""SpiNNaker through sPyNNaker 7.x (optional dependency group ``.[spinnaker]``)."""
