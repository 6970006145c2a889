# nginx-gateway-operator. `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

GO ?= go
CONTROLLER_GEN ?= $(GO) tool controller-gen
# Go test flags; e.g. make test GOTEST_FLAGS='-run TestGateway -v'
GOTEST_FLAGS ?=

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
fmt: ## go fmt.
	$(GO) fmt ./...

.PHONY: vet
vet: ## go vet.
	$(GO) vet ./...

.PHONY: test-deps
test-deps: ## Build (once, cached outside git) the Kubernetes binaries and the nginx root filesystem tests use.
	@hack/build-kube.sh >/dev/null
	@hack/nginx-rootfs.sh >/dev/null

.PHONY: test
test: test-deps vet ## Run every test: unit, golden (nginx -t), envtest, sidecar with real nginx.
	KUBEBUILDER_ASSETS="$$(hack/build-kube.sh)" NGINX_ROOTFS="$$(hack/nginx-rootfs.sh)" \
		$(GO) test -count=1 -timeout 30m $(GOTEST_FLAGS) ./...

.PHONY: bench
bench: test-deps ## Run the Go benchmarks.
	NGINX_ROOTFS="$$(hack/nginx-rootfs.sh)" $(GO) test -run '^$$' -bench . -benchmem ./...

##@ Build

.PHONY: build
build: ## Build bin/operator and bin/sidecar.
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/operator ./operator
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sidecar ./sidecar

.PHONY: run
run: build ## Run the operator against the cluster in KUBECONFIG (until the local cluster lands).
	bin/operator
