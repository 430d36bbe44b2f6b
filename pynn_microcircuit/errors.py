"""Errors that reach the user as one line."""


class UserError(Exception):
    """Bad input: the message names the problem and the fix, and is printed as one line."""
