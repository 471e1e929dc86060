# One image for the two services of xmpp-manifesto. By default it runs the check service
# (docs/node.md), `manifesto serve`, on port 8080 with its SQLite database in the volume
# /var/lib/manifesto; the dialback responder's configuration (and the files it names: its
# certificate, key and secret) are mounted read-only under /etc/manifesto/. The checks need the
# host's IPv6: run it on the host's network (or a Docker network with IPv6).
#
#   docker build -t manifesto .
#   docker run -d --name manifesto-serve --network host \
#     -v manifesto-data:/var/lib/manifesto -v /etc/manifesto:/etc/manifesto:ro manifesto \
#     serve --listen 127.0.0.1:8080 --db /var/lib/manifesto/checks.sqlite \
#     --responder /etc/manifesto/responder.toml --tokens /etc/manifesto/tokens
#
# The same image runs the dialback responder (docs/responder.md) when told so:
#
#   docker run -d --name manifesto-responder -v /etc/manifesto:/etc/manifesto:ro \
#     -p 5269:5269 -p 5270:5270 -p 127.0.0.1:8269:8269 \
#     manifesto responder --config /etc/manifesto/responder.toml
#   docker kill --signal HUP manifesto-responder     # after a certificate renewal
#
# Any other `manifesto` command runs too: `docker run IMAGE check example.org`.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin manifesto

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin manifesto \
    && install -d -o manifesto -g manifesto -m 0750 /var/lib/manifesto
COPY --from=build /src/target/release/manifesto /usr/local/bin/manifesto
USER manifesto
# The check service's database (and its -wal and -shm files): keep it in a volume.
VOLUME /var/lib/manifesto
# The check service; the responder's s2s of `domain` (STARTTLS), s2s of `plain_domain`
# (no TLS), and its API.
EXPOSE 8080 5269 5270 8269
ENTRYPOINT ["manifesto"]
# Inside a container the service listens on the container's addresses, not its loopback.
CMD ["serve", "--listen", "0.0.0.0:8080", "--db", "/var/lib/manifesto/checks.sqlite", "--responder", "/etc/manifesto/responder.toml"]
