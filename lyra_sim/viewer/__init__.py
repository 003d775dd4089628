"""``lyra-sim view``: a web viewer (viser) for scenes, bundles and recorded episodes.

The top layer: it reads bundles, scene directories, splat files and rollouts; nothing in
lyra-sim imports it. Needs the ``viewer`` extra (``pip install -e ".[viewer]"``).
"""
