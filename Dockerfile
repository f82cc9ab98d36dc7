# syntax=docker/dockerfile:1
# fieldproof as a container: build with the Rust toolchain, run on a small Debian as a non-root user.
#   docker build --build-arg GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t fieldproof .
#   docker run -p 8080:8080 -v fieldproof-data:/var/lib/fieldproof -e FIELDPROOF_PUBLIC_URL=https://... fieldproof
# The README's "Container image" section lists the settings.

FROM rust:1.95-bookworm AS build
# The commit `fieldproof --version` names (a build context has no .git); empty: "unknown".
ARG GIT_COMMIT=""
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY checklists checklists
COPY benches benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    FIELDPROOF_GIT_COMMIT="${GIT_COMMIT}" cargo build --release --locked --bin fieldproof \
    && cp target/release/fieldproof /usr/local/bin/fieldproof

FROM debian:bookworm-slim
# ca-certificates: TLS to SMTP, webhooks and PostgreSQL; curl: the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/fieldproof --shell /usr/sbin/nologin fieldproof \
    && install -d -o fieldproof -g fieldproof -m 0750 /var/lib/fieldproof
COPY --from=build /usr/local/bin/fieldproof /usr/local/bin/fieldproof
COPY checklists /usr/share/fieldproof/checklists
ENV DATABASE_URL=/var/lib/fieldproof/fieldproof.db \
    FIELDPROOF_BIND=0.0.0.0:8080 \
    FIELDPROOF_CHECKLISTS=/usr/share/fieldproof/checklists \
    FIELDPROOF_LOG_FORMAT=json \
    MALLOC_ARENA_MAX=2 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# The SQLite database and its generated token secret live here.
VOLUME /var/lib/fieldproof
WORKDIR /var/lib/fieldproof
USER fieldproof
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["fieldproof"]
CMD ["serve"]
