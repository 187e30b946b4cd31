"""The browser explorer on Mesa's SolaraViz: `solara run sim/explorer/app.py`."""
