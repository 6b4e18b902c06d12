# Data Analysis Platform: the commands. `make help` lists them.
SHELL := /bin/bash
PY := venv/bin/python
STACK ?= dev
APT_PACKAGES := docker.io nginx-light libnginx-mod-stream openssl debootstrap openssh-client curl ca-certificates iproute2 util-linux patch chromium chromium-driver libnss3-tools fonts-dejavu-core

.PHONY: help setup venv engine toolchain images up preview destroy outputs test unit integration bench backup restore

help:
	@echo "make up        set everything up and bring the $(STACK) stack up on the local Docker engine"
	@echo "make test      set everything up and run every test (unit + integration)"
	@echo "make unit      unit tests only (mocks; no CLI, no Docker)"
	@echo "make preview | destroy | outputs   the same for pulumi preview / destroy / stack output --show-secrets"
	@echo "make toolchain build or reuse the offline Pulumi CLI and plugins (cached under ~/.cache/dap)"
	@echo "make images    build or reuse the offline image set (cached in the Docker engine)"
	@echo "make bench     mock evaluation times; with the toolchain built, also up/preview/scale/destroy of the ci stack"
	@echo "make backup TO=DIR|s3://bucket/prefix   a dated backup of the $(STACK) stack (scripts/backup.py)"
	@echo "make restore FROM=DIR                   restore a backup into the freshly deployed $(STACK) stack (scripts/restore.py)"

setup: venv
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

venv: venv/.installed
venv/.installed: requirements.txt
	test -x $(PY) || python3 -m venv venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

engine:
	scripts/docker-engine.sh

toolchain:
	toolchain/build.sh

images: engine
	images/build.sh

up: setup engine toolchain images
	scripts/pulumi stack select --create $(STACK)
	scripts/pulumi up --stack $(STACK) --yes --skip-preview --policy-pack policy
	@scripts/pulumi stack output urls --stack $(STACK) --json
	@echo "credentials: make outputs; CA certificate: scripts/pulumi stack output caCertificate --stack $(STACK)"

preview: setup engine toolchain
	scripts/pulumi preview --stack $(STACK) --diff --policy-pack policy

destroy: toolchain
	scripts/pulumi destroy --stack $(STACK) --yes

outputs: toolchain
	scripts/pulumi stack output --stack $(STACK) --show-secrets --json

unit: venv
	$(PY) -m pytest -m "not integration" -q

test: setup engine toolchain images
	DAP_REQUIRE_TOOLS=1 $(PY) -m pytest -q

integration: setup engine toolchain images
	DAP_REQUIRE_TOOLS=1 $(PY) -m pytest -m integration -q

bench: setup engine images
	$(PY) scripts/bench.py

backup: toolchain
	$(PY) scripts/backup.py --stack $(STACK) --to "$(TO)"

restore: toolchain
	$(PY) scripts/restore.py --stack $(STACK) --from "$(FROM)"
