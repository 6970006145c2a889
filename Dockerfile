# The operator image: the static bin/operator that `make build` writes
# (CGO_ENABLED=0), on a distroless base that runs as the unprivileged
# "nonroot" user (65532). `make docker-build IMG=...` builds it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY bin/operator /operator
USER 65532:65532
ENTRYPOINT ["/operator"]
