"""Errors that reach the user as one line."""


class UserError(ValueError):
    """Bad input: the message names the problem and the fix, and is printed as one line by
    the command line. A ``ValueError``, so a library caller catches it as the bad value it is.

    The core speaks its own words: parameters by their Python names (``n_scale``,
    ``allow_partial=True``), with ``key`` (the parameter at fault) and ``value`` set where one
    is; the command line maps them to its options when it prints the message
    (:func:`pynn_microcircuit.cli.main.in_cli_words`).
    """

    def __init__(self, message: str, key: str | None = None, value=None):
        super().__init__(message)
        self.key = key
        self.value = value
