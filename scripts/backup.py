#!/usr/bin/env python3
"""Write a consistent, dated backup of a deployed stack (databases, MLflow bucket, GitLab/pgAdmin/Portainer volumes)
with a manifest and checksums, to a directory or an S3 prefix. See scripts/dapbackup.py and README (Backup and restore).

    scripts/backup.py --stack dev --to /srv/backups
    scripts/backup.py --stack dev --to s3://backups/dap --s3-endpoint https://s3.example.com   (AWS_* credentials)
"""
import sys

from dapbackup import backup_main

sys.exit(backup_main())
