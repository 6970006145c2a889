# nginx-gateway-operator. `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

GO ?= go
CONTROLLER_GEN ?= $(GO) tool controller-gen
# Go test flags; e.g. make test GOTEST_FLAGS='-run TestGateway -v'
GOTEST_FLAGS ?=
# The Go modules fmt, vet and test cover: the product, and the local cluster (test infrastructure,
# e2e/localcluster). hack/kube only builds the Kubernetes binaries and has no tests of its own.
MODULES := . e2e/localcluster
# What the tests run against, built once and cached outside git (make test-deps; echo-basic on first use).
TEST_ENV = KUBEBUILDER_ASSETS="$$(hack/build-kube.sh)" NGINX_ROOTFS="$$(hack/nginx-rootfs.sh)" ECHO_BASIC="$$(hack/build-echo.sh)"

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: ## Generate deepcopy code for api/.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: manifests
manifests: ## Generate CRDs and RBAC into config/ from code markers.
	$(CONTROLLER_GEN) crd paths="./api/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths="./operator/..." output:rbac:artifacts:config=config/rbac

.PHONY: fmt
fmt: ## go fmt (every module).
	for m in $(MODULES); do (cd $$m && $(GO) fmt ./...); done

.PHONY: vet
vet: ## go vet (every module, and hack/catalog).
	for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done
	$(GO) -C hack/catalog vet ./...

.PHONY: test-deps
test-deps: ## Build (once, cached outside git) the Kubernetes binaries and the nginx root filesystem tests use.
	@hack/build-kube.sh >/dev/null
	@hack/nginx-rootfs.sh >/dev/null

.PHONY: test
test: test-deps vet ## Run every test of every module: unit, golden (nginx -t), envtest, sidecar with real nginx, local cluster.
	export $(TEST_ENV) && for m in $(MODULES); do \
		echo "== $$m" && (cd $$m && $(GO) test -count=1 -timeout 30m $(GOTEST_FLAGS) ./...) || exit 1; done

.PHONY: bench
bench: test-deps ## Run the Go benchmarks.
	NGINX_ROOTFS="$$(hack/nginx-rootfs.sh)" $(GO) test -run '^$$' -bench . -benchmem ./...

##@ Build

.PHONY: build
build: ## Build bin/operator, bin/sidecar and the kubectl plugin bin/kubectl-nginx_gateway (`kubectl nginx-gateway` when on PATH).
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/operator ./operator
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sidecar ./sidecar
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/kubectl-nginx_gateway ./cmd/kubectl-nginx_gateway

.PHONY: run
run: run-local ## Start a local cluster (no Docker) with the operator and a sample Gateway; prints a working curl. Ctrl-C stops it.

.PHONY: run-operator
run-operator: build ## Run the operator on this machine against the cluster in KUBECONFIG.
	bin/operator

##@ Deployment

# Version of the operator, its images, bundle and catalog (semver, no leading v).
VERSION ?= 0.1.0
# Registry and organisation of the images; each image can also be set alone.
IMAGE_TAG_BASE ?= ghcr.io/nginx-gateway-operator
# The operator image (Dockerfile) and the gateway image, nginx 1.30 + the sidecar (Dockerfile.gateway).
IMG ?= $(IMAGE_TAG_BASE)/nginx-gateway-operator:v$(VERSION)
GATEWAY_IMG ?= $(IMAGE_TAG_BASE)/nginx-gateway:v$(VERSION)
# OLM: the bundle image (bundle.Dockerfile), the catalog image (catalog/Dockerfile), channels.
BUNDLE_IMG ?= $(IMAGE_TAG_BASE)/nginx-gateway-operator-bundle:v$(VERSION)
CATALOG_IMG ?= $(IMAGE_TAG_BASE)/nginx-gateway-operator-catalog:v$(VERSION)
CHANNELS ?= candidate
DEFAULT_CHANNEL ?= candidate
CONTAINER_TOOL ?= docker
KUBECTL ?= kubectl
# `make undeploy ignore-not-found=true` tolerates objects already gone.
ignore-not-found ?= false

# Tools, pinned and built with `go install` into bin/.
LOCALBIN ?= $(CURDIR)/bin
KUSTOMIZE_VERSION ?= v5.8.1
KUSTOMIZE ?= $(LOCALBIN)/kustomize

# What `make bundle` and `make catalog` generate from; the packaging tests read it with `make print-bundle-flags`.
BUNDLE_GEN_FLAGS = -config config -package nginx-gateway-operator -version $(VERSION) \
	-img $(IMG) -gateway-img $(GATEWAY_IMG) -bundle-img $(BUNDLE_IMG) \
	-channels $(CHANNELS) -default-channel $(DEFAULT_CHANNEL)

# kustomize-build prints `kustomize build config/$(1)` with IMG and GATEWAY_IMG set, working on a
# copy of config/ so the committed kustomizations keep their defaults.
define kustomize-build
tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp -R config "$$tmp/" && \
	(cd "$$tmp/config/manager" && "$(KUSTOMIZE)" edit set image controller=$(IMG) gateway=$(GATEWAY_IMG)) && \
	"$(KUSTOMIZE)" build "$$tmp/config/$(1)"
endef

.PHONY: gateway-api-install
gateway-api-install: ## Install the Gateway API CRDs (standard channel, the version in go.mod): a prerequisite of deploy.
	$(KUBECTL) apply --server-side -k "$$($(GO) list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)/config/crd"

.PHONY: install
install: manifests kustomize ## Install our CRDs (GatewayParameters) into the cluster in KUBECONFIG.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove our CRDs (and every GatewayParameters) from the cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator (IMG, GATEWAY_IMG) into the cluster in KUBECONFIG.
	$(call kustomize-build,default) | $(KUBECTL) apply -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator and our CRDs from the cluster.
	$(call kustomize-build,default) | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: build-installer
build-installer: manifests kustomize ## Write dist/install.yaml: the whole install (CRDs, RBAC, Deployment) in one file.
	mkdir -p dist
	$(call kustomize-build,default) > dist/install.yaml

.PHONY: docker-build
docker-build: build ## Build the operator (IMG) and gateway (GATEWAY_IMG) images from bin/.
	$(CONTAINER_TOOL) build -t $(IMG) -f Dockerfile .
	$(CONTAINER_TOOL) build -t $(GATEWAY_IMG) -f Dockerfile.gateway .

.PHONY: docker-push
docker-push: ## Push the operator and gateway images.
	$(CONTAINER_TOOL) push $(IMG)
	$(CONTAINER_TOOL) push $(GATEWAY_IMG)

.PHONY: bundle
bundle: manifests ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/.
	$(GO) run ./hack/bundle $(BUNDLE_GEN_FLAGS)

.PHONY: bundle-build
bundle-build: ## Build the bundle image (BUNDLE_IMG).
	$(CONTAINER_TOOL) build -t $(BUNDLE_IMG) -f bundle.Dockerfile .

.PHONY: bundle-push
bundle-push: ## Push the bundle image.
	$(CONTAINER_TOOL) push $(BUNDLE_IMG)

.PHONY: catalog
catalog: bundle ## Generate the file-based catalog (catalog/) of the bundle.
	$(GO) -C hack/catalog run . -root ../.. -- $(BUNDLE_GEN_FLAGS)

.PHONY: catalog-build
catalog-build: ## Build the catalog image (CATALOG_IMG).
	$(CONTAINER_TOOL) build -t $(CATALOG_IMG) -f catalog/Dockerfile .

.PHONY: catalog-push
catalog-push: ## Push the catalog image.
	$(CONTAINER_TOOL) push $(CATALOG_IMG)

.PHONY: krew
krew: ## Build the kubectl plugin's release archives (linux, darwin; amd64, arm64) and its filled krew manifest into dist/krew/.
	$(GO) run ./hack/krew -version v$(VERSION) -out dist/krew

.PHONY: print-bundle-flags
print-bundle-flags:
	@echo $(BUNDLE_GEN_FLAGS)

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Build kustomize (KUSTOMIZE_VERSION) into bin/.
$(KUSTOMIZE): $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
	ln -sf kustomize-$(KUSTOMIZE_VERSION) $(KUSTOMIZE)
$(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION):
	mkdir -p $(LOCALBIN)
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
		GOBIN="$$tmp" $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION) && \
		mv "$$tmp/kustomize" $@

##@ Local cluster

# A real Kubernetes cluster without Docker (the e2e/localcluster module): etcd, kube-apiserver and
# kube-controller-manager as processes, pods as processes in network namespaces on a private bridge
# (198.18.0.0/24). Needs root. One at a time; Ctrl-C removes everything it started.

.PHONY: localcluster
localcluster: ## Build bin/localcluster (the local cluster with this product's images; -deploy installs it).
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/localcluster ./e2e/product/cmd/localcluster

.PHONY: kubectl
kubectl: ## Link bin/kubectl to the kubectl of the cached Kubernetes build.
	@mkdir -p bin && ln -sf "$$(hack/build-kube.sh)/kubectl" bin/kubectl && echo "bin/kubectl -> $$(readlink bin/kubectl)"

.PHONY: local-cluster
local-cluster: test-deps localcluster kubectl ## Run a local cluster until Ctrl-C (prints KUBECONFIG).
	@hack/build-echo.sh >/dev/null
	bin/localcluster

.PHONY: run-local
run-local: test-deps build localcluster kubectl ## Local cluster + CRDs + operator (config/default) + config/samples; prints a working curl; Ctrl-C stops.
	@hack/build-echo.sh >/dev/null
	bin/localcluster -deploy

.PHONY: test-e2e
test-e2e: test-deps ## Run the end-to-end tests on a local cluster (root): the cluster's own, then the product's.
	@hack/build-echo.sh >/dev/null
	export $(TEST_ENV) && (cd e2e/localcluster && $(GO) test -count=1 -timeout 20m $(GOTEST_FLAGS) ./...) && \
		$(GO) test -count=1 -timeout 20m $(GOTEST_FLAGS) ./e2e/...

# The benchmark on a local cluster (e2e/bench, build tag benche2e, so make test never runs it): route
# propagation at each size beside plain nginx reloading the same routes, the breakdown of our time, route
# churn under load, throughput against a hand-written keepalive config (wrk). Writes docs/performance.md.
# A quicker run: make bench-e2e BENCH_E2E_FLAGS='-bench.sizes=100 -bench.changes=5 -bench.churn-at=100 -bench.replacements=10'
BENCH_E2E_FLAGS ?=

.PHONY: bench-e2e
bench-e2e: test-deps ## Benchmark the product on a local cluster (root) against plain nginx; writes docs/performance.md.
	@hack/build-echo.sh >/dev/null
	export $(TEST_ENV) && $(GO) test -tags benche2e -count=1 -timeout 60m -v -run '^TestBenchE2E$$' ./e2e/bench/ \
		-args -bench.out=docs/performance.md $(BENCH_E2E_FLAGS)

##@ Conformance

# The Gateway API conformance suite (conformance/, build tag "conformance") on a local cluster: the
# GATEWAY-HTTP, -GRPC, -TLS, -TCP and -UDP profiles with the features our GatewayClass publishes. Writes conformance/report.yaml
# and prints passed/failed/skipped per profile. Needs root. Extra suite flags go in CONFORMANCE_FLAGS,
# e.g. CONFORMANCE_FLAGS='-run-test HTTPRouteSimpleSameNamespace' or '-supported-features ...'.
CONFORMANCE_FLAGS ?=
CONFORMANCE_LOG ?= $(or $(TMPDIR),/tmp)/nginx-gateway-operator-conformance.log
# The suite runs on the experimental channel's CRDs, so the features whose fields only they have (HTTPRoute retry)
# are claimed and tested too; NGO_GATEWAY_API_CHANNEL=standard runs it on the standard ones. `make run` and the
# e2e tests install the standard channel (product.Deploy's default).
conformance: export NGO_GATEWAY_API_CHANNEL ?= experimental

.PHONY: conformance
conformance: test-deps build ## Run the Gateway API conformance suite on a local cluster; writes conformance/report.yaml.
	@hack/build-echo.sh >/dev/null
	@hack/build-coredns.sh >/dev/null
	@summary=$$(mktemp) && trap 'rm -f "$$summary"' EXIT && \
	echo "conformance: full log in $(CONFORMANCE_LOG)" && \
	rc=0 && $(GO) test -tags conformance -count=1 -timeout 60m -v ./conformance/ -run '^TestConformance$$' \
		-args -version v$(VERSION) -summary-output "$$summary" $(CONFORMANCE_FLAGS) >"$(CONFORMANCE_LOG)" 2>&1 || rc=$$?; \
	if [ -s "$$summary" ]; then cat "$$summary"; else tail -50 "$(CONFORMANCE_LOG)"; fi; \
	[ $$rc -eq 0 ] || echo "conformance: FAILED (exit $$rc); see $(CONFORMANCE_LOG)"; \
	exit $$rc
