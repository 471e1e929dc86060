# The dialback responder in a container (docs/responder.md). The image runs
# `manifesto responder --config /etc/manifesto/responder.toml`; mount the configuration, the
# certificate, the key and the secret read-only under /etc/manifesto/. Any other `manifesto`
# command runs too: `docker run IMAGE check example.org`.
#
#   docker build -t manifesto .
#   docker run -d --name manifesto-responder -v /etc/manifesto:/etc/manifesto:ro \
#     -p 5269:5269 -p 5270:5270 -p 127.0.0.1:8269:8269 manifesto
#   docker kill --signal HUP manifesto-responder     # after a certificate renewal

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin manifesto

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin manifesto
COPY --from=build /src/target/release/manifesto /usr/local/bin/manifesto
USER manifesto
# s2s of `domain` (STARTTLS), s2s of `plain_domain` (no TLS), the API.
EXPOSE 5269 5270 8269
ENTRYPOINT ["manifesto"]
CMD ["responder", "--config", "/etc/manifesto/responder.toml"]
