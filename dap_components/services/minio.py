"""MinIO: the S3 store for MLflow artifacts, with the bucket and a bucket-scoped key made by the program."""

from __future__ import annotations

import json

import pulumi

from ..containers import ContainerSpec, NetworkAttachment, Upload, make_container, pinned_image
from ..routes import HttpRoute
from .base import SECRETS_DIR, HostContext, ServiceResult
from .object_store import BucketCredentials

API_PORT = 9000
CONSOLE_PORT = 9001
ALIAS = "minio"


def bucket_policy(bucket: str) -> str:
    """IAM policy: list the bucket, read/write/delete its objects; nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    "Resource": [f"arn:aws:s3:::{bucket}"],
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:DeleteObject",
                        "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts",
                    ],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                },
            ],
        },
        sort_keys=True,
    )


def provision_script(bucket: str) -> str:
    """Idempotent: reads the key's id and secret from stdin, root credentials from the container's files; removes
    the bucket's other keys."""
    policy = bucket_policy(bucket)
    return f"""set -eu
read -r access_key
read -r secret_key
export MC_HOST_local="http://$(cat {SECRETS_DIR}/minio_root_user):$(cat {SECRETS_DIR}/minio_root_password)@127.0.0.1:{API_PORT}"
mc ready local >/dev/null
mc mb --ignore-existing local/{bucket} >/dev/null
printf '%s' '{policy}' > /tmp/dap-policy.json
mc admin policy create local {bucket}-rw /tmp/dap-policy.json >/dev/null
rm -f /tmp/dap-policy.json
# `--`: a generated key may begin with "-", which mc would take for a flag wherever it stands
mc admin user add -- local "$access_key" "$secret_key" >/dev/null
mc admin policy attach local {bucket}-rw --user="$access_key" >/dev/null 2>&1 || true
# keys of this bucket from earlier deployments (destroy + up, rotation) stop working
mc admin user list local --json | sed -n 's/.*"accessKey":"\\([^"]*\\)".*"policyName":"{bucket}-rw".*/\\1/p' |
while read -r old; do [ "$old" = "$access_key" ] || mc admin user remove -- local "$old" >/dev/null; done
mc admin user info -- local "$access_key" | grep -q '{bucket}-rw'
echo "bucket {bucket} ready"
"""


class MinioStore:
    def __init__(self, ctx: HostContext):
        self._ctx = ctx
        self.endpoint = ctx.public_url("s3")
        self.root_user = ctx.password("minio", "root-user", length=20)
        self.root_password = ctx.password("minio", "root-password", length=40)
        data = ctx.volume("minio", "data")
        image = pinned_image(f"{ctx.name}-minio-image", ctx.cfg.images.minio, ctx.opts)
        self.container = make_container(
            f"{ctx.name}-minio",
            ctx.container_name("minio"),
            ContainerSpec(
                role="minio",
                image=image.image_id,
                command=["server", "/data", "--address", f":{API_PORT}", "--console-address", f":{CONSOLE_PORT}"],
                envs=[
                    f"MINIO_ROOT_USER_FILE={SECRETS_DIR}/minio_root_user",
                    f"MINIO_ROOT_PASSWORD_FILE={SECRETS_DIR}/minio_root_password",
                    f"MINIO_BROWSER_REDIRECT_URL={ctx.public_url('minio-console')}",
                ],
                uploads=[
                    Upload(f"{SECRETS_DIR}/minio_root_user", self.root_user.result, mode="0400"),
                    Upload(f"{SECRETS_DIR}/minio_root_password", self.root_password.result, mode="0400"),
                ],
                volumes=[(data.name, "/data")],
                networks=[NetworkAttachment(ctx.network_name("storage"), [ALIAS])],
                healthcheck=["CMD", "mc", "ready", "local"],
                memory_mb=ctx.cfg.memory_mb.minio,
                capabilities=[],
            ),
            ctx.opts,
            docker_host=ctx.docker_host,
        )
        self.service = ServiceResult(
            container=self.container,
            http_routes=[
                HttpRoute(ctx.fqdn("s3"), ALIAS, API_PORT, max_body_size="0", buffering=False, timeout_seconds=300, host_header="$http_host"),
                HttpRoute(ctx.fqdn("minio-console"), ALIAS, CONSOLE_PORT, max_body_size="0", buffering=False, timeout_seconds=300),
            ],
            urls={"s3": self.endpoint, "minio-console": ctx.public_url("minio-console")},
            credentials={"minio-root-user": self.root_user.result, "minio-root-password": self.root_password.result},
        )

    def bucket_with_key(self, bucket: str) -> BucketCredentials:
        ctx = self._ctx
        key_id = ctx.password("minio", f"{bucket}-access-key", length=20)
        key_secret = ctx.password("minio", f"{bucket}-secret-key", length=40)
        step = ctx.step_in(
            self.container,
            f"{ctx.name}-minio-{bucket}-bucket",
            provision_script(bucket),
            stdin=pulumi.Output.format("{0}\n{1}\n", key_id.result, key_secret.result),
        )
        return BucketCredentials(bucket, key_id.result, key_secret.result, step)
