#!/usr/bin/env python3
"""Restore a backup (scripts/backup.py) into a freshly deployed stack: checks the whole backup first and changes
nothing if any file is missing, extra or corrupted. See scripts/dapbackup.py and README (Backup and restore).

    scripts/restore.py --stack dev2 --from /srv/backups/dap-backup-dev-20261201T010203Z
"""
import sys

from dapbackup import restore_main

sys.exit(restore_main())
