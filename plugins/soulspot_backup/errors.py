"""The errors of the backup plugin, worded for the owner."""

from __future__ import annotations


class BackupError(Exception):
    """A backup problem, worded for the owner."""


class WrongPassphrase(BackupError):
    """The archive is encrypted and the passphrase does not open it."""


class NeedsPassphrase(BackupError):
    """The archive is encrypted and no passphrase was given."""
