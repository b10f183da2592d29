"""Command line entry point: `cniupgrade run` and friends."""
import argparse
import sys

from cniupgrade import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cniupgrade", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cniupgrade {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the operator")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
