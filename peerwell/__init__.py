"""peerwell: agent-based simulation of online peer networks for people with serious mental illness."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("peerwell")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
