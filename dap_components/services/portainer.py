"""Portainer (optional): needs the Docker socket, so it is off unless `portainer.enabled`."""

from __future__ import annotations

from ..containers import ContainerSpec, NetworkAttachment, Upload, make_container, pinned_image
from ..routes import HttpRoute
from .base import SECRETS_DIR, HostContext, ServiceResult

ALIAS = "portainer"
PORT = 9000


def declare(ctx: HostContext) -> ServiceResult:
    password = ctx.password("portainer", "admin-password")
    data = ctx.volume("portainer", "data")
    image = pinned_image(f"{ctx.name}-portainer-image", ctx.cfg.images.portainer, ctx.opts)
    container = make_container(
        f"{ctx.name}-portainer",
        ctx.container_name("portainer"),
        ContainerSpec(
            role="portainer",
            image=image.image_id,
            # The admin password is set at first start: no initial-setup window, no lockout.
            command=["--admin-password-file", f"{SECRETS_DIR}/portainer_admin_password", "--http-enabled"],
            uploads=[Upload(f"{SECRETS_DIR}/portainer_admin_password", password.result, mode="0400")],
            volumes=[(data.name, "/data")],
            binds=[("/var/run/docker.sock", "/var/run/docker.sock", False)],
            networks=[NetworkAttachment(ctx.network_name("web"), [ALIAS])],
            # The official image is FROM scratch: no shell, curl or wget. The only probe it allows is its own
            # binary, so this checks the image is runnable, not that the API answers (the proxy route does).
            healthcheck=["CMD", "/portainer", "--help"],
            memory_mb=ctx.cfg.memory_mb.portainer,
        ),
        ctx.opts,
    )
    return ServiceResult(
        container=container,
        http_routes=[HttpRoute(ctx.fqdn("portainer"), ALIAS, PORT, timeout_seconds=300)],
        urls={"portainer": f"https://{ctx.fqdn('portainer')}"},
        credentials={"portainer-username": "admin", "portainer-password": password.result},
    )
