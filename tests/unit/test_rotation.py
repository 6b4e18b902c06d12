"""rotation.py: the `rotation` counter replaces every generated password, token, bucket key and TLS/SSH key (not
the stack CA); at 0 nothing carries a trigger, so stacks that never rotated see no change."""

GENERATED = ("random:index/randomPassword:RandomPassword", "tls:index/privateKey:PrivateKey")


def generated(d):
    return [r for r in d.resources if r.typ in GENERATED]


def test_without_rotation_nothing_carries_a_trigger(deploy):
    d = deploy(runnerCount=1, devEnvironments=[{"name": "ann"}])
    assert generated(d) and all(r.replacement_trigger is None for r in generated(d))


def test_a_rotation_replaces_every_generated_secret_and_key_but_the_ca(deploy):
    d = deploy(runnerCount=1, rotation=2, portainer={"enabled": True}, devEnvironments=[{"name": "ann"}])
    by_name = {r.name: r.replacement_trigger for r in generated(d)}
    assert by_name.pop("stack-ca-key") is None  # clients keep trusting the CA
    assert by_name and set(by_name.values()) == {"2"}, by_name
    # every kind the platform generates is in there
    for name in ("service-gitlab-root-password", "service-gitlab-admin-pat", "service-minio-mlflow-secret-key",
                 "service-mlflow-basic-auth-password", "service-postgres-data-superuser-password",
                 "service-proxy-tls-key", "dev-ann-host-key", "dev-ann-user-key", "dev-ann-jupyter-token"):
        assert name in by_name, name
