# Builds both binaries; docker-compose.yml runs `roster-api` and `roster-worker` from it.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/roster-api /src/target/release/roster-worker /usr/local/bin/
ENV ROSTER_LISTEN=0.0.0.0:8080
EXPOSE 8080
CMD ["roster-api", "serve"]
