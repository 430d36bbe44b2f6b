"""Errors that reach the user as one line."""


class UserError(ValueError):
    """Bad input: the message names the problem and the fix, and is printed as one line by
    the command line. A ``ValueError``, so a library caller catches it as the bad value it is."""
