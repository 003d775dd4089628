"""``lyra-sim view``: a bundle, scene directory or splat file (and recorded episodes) in the browser (`lyra_sim.viewer`)."""

from __future__ import annotations


def add_parser(sub) -> None:
    from lyra_sim.viewer import command  # the viewer's options are its own, defined there

    vw = sub.add_parser("view", help="look at a bundle, scene or .ply (and recorded episodes) in the browser",
                        description=command.DESCRIPTION)
    command.add_arguments(vw)
    vw.set_defaults(func=command.run)
