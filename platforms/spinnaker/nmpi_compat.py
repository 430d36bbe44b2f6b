"""Every private internal of the EBRAINS platform client (``hbp-neuromorphic-platform``,
module ``nmpi``, 0.11) this package touches, in one place, each with the upstream file.

* ``nmpi/nmpi_user.py`` caches a token given to ``Client`` in ``TOKENFILE`` (``~/.hbptoken``,
  replacing the file) and asks for a password with ``getpass`` when the token is refused:
  :func:`quiet_client` points the cache at ``os.devnull`` for a token from the environment
  and turns the prompt into a one-line error.
* ``Client.submit_job(inputs=...)`` (``nmpi/nmpi_user.py``) builds each input with
  ``self.create_data_item(input)``, a method 0.11.2 does not have (AttributeError: no job
  with inputs can be submitted). :func:`quiet_client` gives the client one that returns the
  job queue's data item for a URL, ``{"url": url}`` (``url`` is its only required field:
  ebrains-neuromorphic-job-queue-api ``api/simqueue/data_models.py``, ``DataItem``).
"""

from __future__ import annotations

import contextlib
import os


def data_item(url: str) -> dict:
    """An input of a job as the job queue stores it (``DataItem``: url required)."""
    return {"url": url}


@contextlib.contextmanager
def quiet_client(token_from_environment: bool, refused):
    """Within: ``nmpi.Client(...)`` neither writes the token file (when the token comes from
    the environment) nor prompts (``refused()`` raises instead). Yields a function that
    completes a made client."""
    import nmpi.nmpi_user

    if token_from_environment:
        nmpi.nmpi_user.TOKENFILE = os.devnull

    def no_prompt(*_args, **_kwargs):
        refused()

    saved, nmpi.nmpi_user.getpass.getpass = nmpi.nmpi_user.getpass.getpass, no_prompt

    def complete(client):
        if not hasattr(client, "create_data_item"):
            client.create_data_item = data_item
        return client

    try:
        yield complete
    finally:
        nmpi.nmpi_user.getpass.getpass = saved
