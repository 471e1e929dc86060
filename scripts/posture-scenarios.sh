#!/usr/bin/env bash
# Real-peer checks of the TLS posture probes (issue 4), until the tests/support harness lands:
#   1. Prosody with `protocol = "tlsv1+"` and `DEFAULT:AES128-SHA:@SECLEVEL=0` (RSA certificate),
#      Direct TLS ports behind _xmpps-* SRV records, a certificate expiring in 10 days:
#      modern-tls warn, forward-secrecy warn, 4 endpoints (2 Direct TLS) with posture,
#      a certificate-expires-soon advisory.
#   2. Default Prosody 0.12 (ECDSA certificate): modern-tls pass, forward-secrecy pass.
# Needs prosody, dnsmasq, openssl, python3. Uses loopback addresses $WEAK_IP/$GOOD_IP and DNS
# port $DNS_PORT; kills only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."

WEAK_IP=${WEAK_IP:-127.0.0.43}
GOOD_IP=${GOOD_IP:-127.0.0.44}
DNS_PORT=${DNS_PORT:-5398}
BIN=${BIN:-target/debug/manifesto}
[ -x "$BIN" ] || cargo build --quiet

dir=$(mktemp -d /tmp/posture-scenarios.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/weak.key" -out "$dir/weak.crt" -days 10 \
    -subj "/CN=weak.test" -addext "subjectAltName=DNS:weak.test" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/good.key" \
    -out "$dir/good.crt" -days 365 -subj "/CN=good.test" -addext "subjectAltName=DNS:good.test" 2>/dev/null

prosody_config() { # name ip domain extra
    mkdir -p "$dir/$1-data"
    cat > "$dir/$1.cfg.lua" <<LUA
run_as_root = true
daemonize = false
pidfile = "$dir/$1.pid"
data_path = "$dir/$1-data"
interfaces = { "$2" }
c2s_interfaces = { "$2" }
s2s_interfaces = { "$2" }
log = { info = "$dir/$1.log" }
modules_enabled = { "tls", "saslauth", "dialback", "disco" }
c2s_require_encryption = true
s2s_require_encryption = true
$4
VirtualHost "$3"
LUA
}
prosody_config weak "$WEAK_IP" weak.test "ssl = { certificate = \"$dir/weak.crt\", key = \"$dir/weak.key\", protocol = \"tlsv1+\", ciphers = \"DEFAULT:AES128-SHA:@SECLEVEL=0\" }
c2s_direct_tls_ports = { 5223 }
s2s_direct_tls_ports = { 5270 }"
prosody_config good "$GOOD_IP" good.test "ssl = { certificate = \"$dir/good.crt\", key = \"$dir/good.key\" }"

prosody -F --config "$dir/weak.cfg.lua" >"$dir/weak.out" 2>&1 & pids+=($!)
prosody -F --config "$dir/good.cfg.lua" >"$dir/good.out" 2>&1 & pids+=($!)
dnsmasq --no-daemon --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
    --no-hosts --local=/weak.test/ --local=/good.test/ \
    --address=/weak.test/"$WEAK_IP" --address=/good.test/"$GOOD_IP" \
    --srv-host=_xmpp-client._tcp.weak.test,weak.test,5222 \
    --srv-host=_xmpp-server._tcp.weak.test,weak.test,5269 \
    --srv-host=_xmpps-client._tcp.weak.test,weak.test,5223 \
    --srv-host=_xmpps-server._tcp.weak.test,weak.test,5270 \
    --srv-host=_xmpp-client._tcp.good.test,good.test,5222 \
    --srv-host=_xmpp-server._tcp.good.test,good.test,5269 \
    >"$dir/dns.out" 2>&1 & pids+=($!)
for _ in $(seq 50); do
    if (exec 3<>/dev/tcp/"$WEAK_IP"/5270) 2>/dev/null && (exec 3<>/dev/tcp/"$GOOD_IP"/5269) 2>/dev/null; then break; fi
    sleep 0.1
done

check() { "$BIN" check "$1" --resolver "127.0.0.1:$DNS_PORT" --allow-private --format json || true; }
check weak.test >"$dir/weak.json"
check good.test >"$dir/good.json"

python3 - "$dir/weak.json" "$dir/good.json" <<'PY'
import json, sys
def load(p):
    r = json.load(open(p))
    return r[0] if isinstance(r, list) else r
weak, good = load(sys.argv[1]), load(sys.argv[2])
ok = True
def expect(what, got, want):
    global ok
    flag = "ok  " if got == want else "FAIL"
    ok &= got == want
    print(f"{flag} {what}: {got!r} (want {want!r})")
req = lambda r, i: r["requirements"][i]["status"]
expect("weak modern-tls", req(weak, "modern-tls"), "warn")
expect("weak forward-secrecy", req(weak, "forward-secrecy"), "warn")
expect("weak endpoints", len(weak["endpoints"]), 4)
expect("weak Direct TLS endpoints with TLS",
       sum(1 for e in weak["endpoints"] if e["mode"] == "direct-tls" and e.get("tls")), 2)
expect("weak Direct TLS endpoints with post-TLS features",
       sum(1 for e in weak["endpoints"] if e["mode"] == "direct-tls" and e.get("post_tls_features")), 2)
expect("weak posture probes per endpoint", sorted({len(e.get("posture", [])) for e in weak["endpoints"]}), [9])
for e in weak["endpoints"]:
    p = {x["offer"]: x["outcome"] for x in e["posture"]}
    expect(f"weak {e['service']} {e['mode']} tls1.0", p["tls1.0"], "accepted")
    expect(f"weak {e['service']} {e['mode']} sslv3", p["sslv3"], "refused")
    expect(f"weak {e['service']} {e['mode']} static-rsa", p["tls1.2-static-rsa"], "accepted")
expect("weak advisories", sorted(a["id"] for a in weak["advisories"]), ["certificate-expires-soon"])
expect("good modern-tls", req(good, "modern-tls"), "pass")
expect("good forward-secrecy", req(good, "forward-secrecy"), "pass")
for e in good["endpoints"]:
    p = {x["offer"]: x["outcome"] for x in e["posture"]}
    expect(f"good {e['service']} tls1.0", p["tls1.0"], "refused")
    expect(f"good {e['service']} static-rsa", p["tls1.2-static-rsa"], "refused")
print("weak check took", weak["duration_ms"], "ms; good check took", good["duration_ms"], "ms")
sys.exit(0 if ok else 1)
PY
