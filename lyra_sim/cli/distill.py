"""``lyra-sim distill``: the trainer's own command line (`lyra_sim.training.command`), as a subcommand."""

from __future__ import annotations


def add_parser(sub) -> None:
    from lyra_sim.training import command

    dis = sub.add_parser("distill", help="train Lyra's 3DGS decoder by self-distillation from a world model",
                         description=command.DESCRIPTION)
    command.add_arguments(dis)
    dis.set_defaults(func=command.run)
