"""Run one restore in its own process (the killed-restore tests SIGKILL it mid-way).

Usage: restore_child.py DATA_DIR BACKUP_ID STAGE first|last ARMED_FILE KEY_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from backup_support import DISABLE, FileSource, KillSource, KillSourceLast, RowsPlugin

from soulspot.testing import build_app
from soulspot_backup.service import service


def main() -> None:
    data_dir, backup_id, stage, where, armed, key_file = sys.argv[1:7]
    killer_cls = KillSource if where == "first" else KillSourceLast
    killer = killer_cls(stage, where == "first", Path(armed))
    app = build_app(
        Path(data_dir),
        plugins=[
            ("rows", RowsPlugin()),
            ("keys", FileSource(Path(key_file), sensitive=False)),
            ("killpoint", killer),
        ],
        disable=DISABLE,
    )
    with app.app_context():
        service(app).restore(backup_id, progress=lambda m: print(m, flush=True))
    print("RESTORE FINISHED", flush=True)


if __name__ == "__main__":
    main()
