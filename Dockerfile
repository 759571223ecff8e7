# packgate container image.
#   docker build -t packgate .
#   docker run -p 8080:8080 -v packgate-data:/data packgate
# Configuration: mount a file and add `--config /etc/packgate/packgate.toml` to the command, or set
# PACKGATE__SECTION__KEY environment variables (e.g. PACKGATE__DATABASE__URL, PACKGATE__STORAGE__TYPE=s3).

# ---- build ------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY formats/ formats/
COPY migrations/ migrations/
COPY src/ src/
# Declared [[test]] targets must exist for cargo to read the manifest; they are not built.
COPY tests/ tests/
RUN cargo build --release --locked --bin packgate \
 && install -D -m 0755 target/release/packgate /out/packgate

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: TLS to S3 endpoints and external PostgreSQL. Unpinned on purpose: bookworm
# security updates replace the exact version, and a pin would break the build when they do.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 packgate \
 && useradd --system --no-log-init --uid 10001 --gid packgate --home-dir /data --shell /usr/sbin/nologin packgate \
 && install -d -o packgate -g packgate -m 0750 /data
COPY --from=builder /out/packgate /usr/local/bin/packgate
ENV PACKGATE__SERVER__DATA_DIR=/data
VOLUME /data
WORKDIR /data
USER 10001:10001
EXPOSE 8080
# No HEALTHCHECK: the slim image has no curl/wget and packgate has no health-probe subcommand;
# let the orchestrator probe HTTP on port 8080 instead.
ENTRYPOINT ["packgate"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
