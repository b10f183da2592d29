# Everything a new user needs: `make demo` and `make test`. Nothing is installed by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODES  ?= 20
PROMTOOL := .cache/prometheus/usr/bin/promtool

.PHONY: help venv controlplane test test-unit test-e2e check-install demo bench bench-full bench-soak cluster-up cluster-down crds clean image image-context

help:
	@echo "make demo          local cluster + simulated CNI + an UpgradePlan, shown live (CHART=1: the chart path)"
	@echo "make test          unit + e2e tests on a real local control plane"
	@echo "make cluster-up    start the 'dev' cluster (NODES=$(NODES)); make cluster-down stops it"
	@echo "make crds          regenerate crds/ from the pydantic models"
	@echo "make image         the operator's container image (buildah on a Debian base, no registry or daemon); prints its size"
	@echo "make image-context what a plain 'docker build .' copies in: wheels for Python 3.11 and helm, in .cache/image"
	@echo "make bench         operator rollout vs the native DaemonSet rolling update (BENCH_NODES=100,1000)"
	@echo "make bench-full    100, 1000 and 5000 nodes (10% at once), 50k unrelated pods, pre-flight over 100k endpoints, status sizes"
	@echo "make bench-soak    PLANS=24 plans in a row in one operator: RSS, threads and API connections after each"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

# Builds kube-apiserver, controller-manager, scheduler, kubectl, etcd and kwok from Go modules, once.
controlplane: $(STAMP)
	$(PY) -m localcluster build

test: controlplane check-install $(PROMTOOL)
	PROMTOOL=$(abspath $(PROMTOOL)) $(PY) -m pytest tests

# promtool, for the alert-rule tests: taken from Debian's prometheus package, without installing the server.
$(PROMTOOL):
	rm -rf .cache/prometheus-deb && mkdir -p .cache/prometheus-deb
	cd .cache/prometheus-deb && (apt-get download prometheus 2>/dev/null || (apt-get update -qq && apt-get download prometheus))
	dpkg-deb -x .cache/prometheus-deb/prometheus_*.deb .cache/prometheus
	$(PROMTOOL) --version

# The package as the image installs it: not editable, into a clean virtualenv.
check-install: $(STAMP)
	rm -rf .cache/install-check && $(PYTHON) -m venv .cache/install-check
	.cache/install-check/bin/pip install --quiet .
	.cache/install-check/bin/cniupgrade --help > /dev/null
	.cache/install-check/bin/kubectl-cniupgrade --version > /dev/null
	.cache/install-check/bin/cniupgrade crd | diff -q - crds/upgradeplan.yaml
	.cache/install-check/bin/cniupgrade crd --kind UpgradePlanRoster | diff -q - crds/upgradeplanroster.yaml
	@echo "check-install: pip install . works; the installed package generates the committed CRD"

test-unit: $(STAMP) $(PROMTOOL)
	PROMTOOL=$(abspath $(PROMTOOL)) $(PY) -m pytest tests/unit

test-e2e: controlplane
	$(PY) -m pytest tests/e2e

demo: controlplane
	$(PY) -m demo --nodes $(NODES) $(if $(KEEP),--keep) $(if $(CHART),--chart)

# Rollout speed against the native DaemonSet RollingUpdate (ratios; never a timed test). BENCH_NODES=100,1000
BENCH_NODES ?= 100
BENCH_CROWD ?= 0
BENCH_PREFLIGHT ?=
bench: controlplane
	$(PY) -m bench --nodes $(BENCH_NODES) --crowd $(BENCH_CROWD) --preflight "$(BENCH_PREFLIGHT)"

bench-full: controlplane
	$(PY) -m bench --nodes 100,1000 --crowd 50000 --preflight 10000,100000
	$(PY) -m bench --nodes 5000 --max-unavailable 10% --crowd 50000
	$(PY) -m bench.status_size

PLANS ?= 24
bench-soak: controlplane
	$(PY) -m bench.soak --plans $(PLANS)

cluster-up: controlplane
	$(PY) -m localcluster --name dev up --nodes $(NODES)
	@echo "export KUBECONFIG=$$($(PY) -m localcluster --name dev kubeconfig)"

cluster-down: $(STAMP)
	$(PY) -m localcluster --name dev down

crds: $(STAMP)
	$(PY) -m cniupgrade crd > crds/upgradeplan.yaml
	$(PY) -m cniupgrade crd --kind UpgradePlanRoster > crds/upgradeplanroster.yaml
	cp crds/upgradeplan.yaml crds/upgradeplanroster.yaml deploy/chart/cni-upgrade-operator/crds/

# The operator's image without a registry or a daemon: a Debian bookworm base made by mmdebstrap (cached) and
# buildah (both installed with apt-get when missing, as root). Reused while the tree is unchanged.
image: $(STAMP)
	$(PY) -m localcluster.image build

# For `docker build .` on any machine: the wheels and helm the Dockerfile copies in (needs Go 1.26+ for helm).
image-context: $(STAMP)
	$(PY) -m localcluster.image context

clean: cluster-down
	rm -rf .localcluster
