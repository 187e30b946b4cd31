"""The browser explorer, built from Mesa's SolaraViz pieces: start it with `python -m sim.explorer`."""
