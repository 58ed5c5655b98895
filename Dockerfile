# One image recipe for the three binaries; BIN picks which one:
#
#   docker build --build-arg BIN=auth-service   -t auth-service .
#   docker build --build-arg BIN=http-edge      -t http-edge .
#   docker build --build-arg BIN=kakao-emulator -t kakao-emulator .   (dev only)
#
# Configuration comes only from the environment at run time (see README's
# configuration table); no secret is baked into the image.

FROM rust:1.95-bookworm AS builder
ARG BIN
WORKDIR /src
COPY . .
RUN test -n "$BIN" \
 && cargo build --release --locked -p "$BIN" \
 && install -m 0755 "target/release/$BIN" /usr/local/bin/app

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
 && install -d -o app -g app /app
COPY --from=builder /usr/local/bin/app /usr/local/bin/app
WORKDIR /app
USER 10001:10001
ENV RUST_LOG=info
# auth-service 50051 (gRPC) and 9090 (metrics), http-edge 8080, emulator 8081.
EXPOSE 50051 9090 8080 8081
ENTRYPOINT ["/usr/local/bin/app"]
