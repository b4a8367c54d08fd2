"""Verifying an archive: unpack it into a work folder, check checksums, signature and each
source's own check of its snapshot, and record the outcome of archives in the backup folder."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .archive import NeedsPassphrase, WrongPassphrase, parse_name
from .reading import read_archive
from .signing import unauthenticated

if TYPE_CHECKING:  # pragma: no cover
    from .service import BackupService

Progress = Callable[[str], None]


def verify(
    svc: BackupService,
    ref: str,
    passphrase: str | None,
    progress: Progress,
    *,
    force_unsigned: bool = False,
) -> list[str]:
    """Check the archive ``ref`` (an id here, or an archive file's path: the copy you will
    restore from): checksums, signature, each source's own check. Returns the problems
    (empty: sound); records the outcome of archives in the backup folder. An archive this
    install cannot authenticate is a problem unless ``force_unsigned``."""
    from soulspot import api

    path = svc.resolve(ref)
    parsed = parse_name(path.name)
    in_folder = parsed is not None and path.parent == svc.dir
    ident = parsed.id if parsed is not None else str(path)
    passphrase = passphrase or svc.default_passphrase()
    work = svc.dir / f".verify-{os.getpid()}-{int(time.time())}"
    with svc.lock:
        svc.clean_stale()
        try:
            work.mkdir(mode=0o700)
            try:
                result = read_archive(
                    path,
                    passphrase,
                    extract_to=work,
                    progress=progress,
                    keys=svc.signing.keys(),
                )
            except (NeedsPassphrase, WrongPassphrase) as exc:
                api.audit("backup.verified", outcome="refused", backup_id=ident, error=str(exc))
                raise
            problems = list(result.problems)
            if result.manifest is not None and not problems:
                progress("verifying the snapshot of each source")
                problems += svc.verify_sources(work, result.manifest)
            if not problems and not result.authentic:
                why = f"the archive {unauthenticated(result.signature)}"
                if force_unsigned:
                    progress(f"WARNING: {why}; its checksums match (--force-unsigned)")
                else:
                    problems.append(why)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if in_folder:
            svc.record_verification(ident, problems)
    api.audit(
        "backup.verified",
        outcome="ok" if not problems else "failed",
        backup_id=ident,
        problems=len(problems),
    )
    if problems and in_folder:
        svc.metrics.failures.inc()
    return problems
