"""peerwell's own error type: every bad input ends here, with a message a user can act on."""


class PeerwellError(Exception):
    """Base class of every error peerwell raises on purpose (bad config, bad file, bad request)."""


class ConfigError(PeerwellError, ValueError):
    """A configuration value is wrong: the message names the field, the value and what is allowed."""


class NetworkFileError(PeerwellError, ValueError):
    """A user's network file is missing or malformed: the message names the file and the line."""
