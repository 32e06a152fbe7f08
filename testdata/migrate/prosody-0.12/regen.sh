#!/usr/bin/env bash
# regen.sh: rebuilds data/, a real Prosody 0.12 data directory, with
# Debian's prosody package (0.12.3): a private instance on 127.0.0.1:27222
# under /tmp/xmppgate-mig (never the system service, never /etc), its
# packaged module set (vcard4 + vcard_legacy: vCards live in PEP) and
# internal_hashed storage, plus a MUC component at conference.pr.example.
# Users are made with prosodyctl; rosters, subscription states, vCards,
# offline messages and rooms through real XMPP by people.py (slixmpp). Needs root (Prosody runs as the prosody user).
# The test that reads data/ is commands/ejabberd/prosody_real_test.go.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=${MIG_RUN:-/tmp/xmppgate-mig}/prosody
PORT=${MIG_PROSODY_PORT:-27222}
DOMAIN=pr.example
CFG=$RUN/prosody.cfg.lua

[ "$(id -u)" = 0 ] || { echo "regen.sh: run as root (Prosody runs as the prosody user)" >&2; exit 1; }
command -v prosodyctl >/dev/null || { echo "regen.sh: apt-get install prosody" >&2; exit 1; }

stop() {
	if [ -s "$RUN/prosody.pid" ]; then
		pid=$(cat "$RUN/prosody.pid")
		if [ -d "/proc/$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$CFG"; then
			kill "$pid"
			for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		fi
	fi
}
trap stop EXIT
stop
rm -rf "$RUN"
mkdir -p "$RUN/data" "$RUN/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=$DOMAIN" \
	-keyout "$RUN/certs/$DOMAIN.key" -out "$RUN/certs/$DOMAIN.crt" 2>/dev/null
# Debian's packaged modules_enabled, without s2s and limits (a private,
# loopback-only instance).
cat >"$CFG" <<CFG
pidfile = "$RUN/prosody.pid"
data_path = "$RUN/data"
admin_socket = "$RUN/prosody.sock"
certificates = "$RUN/certs"
interfaces = { "127.0.0.1" }
c2s_ports = { $PORT }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = {
	"disco"; "roster"; "saslauth"; "tls"; "blocklist"; "bookmarks"; "carbons";
	"pep"; "private"; "smacks"; "vcard4"; "vcard_legacy"; "csi_simple";
	"invites"; "invites_adhoc"; "invites_register"; "ping"; "register"; "time";
	"uptime"; "version"; "admin_adhoc"; "admin_shell"; "posix"; "offline";
}
modules_disabled = { "s2s" }
authentication = "internal_hashed"
c2s_require_encryption = true
log = { info = "$RUN/prosody.log"; error = "$RUN/prosody.err"; }
VirtualHost "$DOMAIN"
	ssl = { certificate = "$RUN/certs/$DOMAIN.crt"; key = "$RUN/certs/$DOMAIN.key"; }
Component "conference.$DOMAIN" "muc"
CFG
chown -R prosody: "$RUN"
chmod 600 "$RUN/certs/$DOMAIN.key"

# The passwords: spaces, non-Latin and XML-special characters.
declare -A PW=(
	[alice]='alice pässword'
	[bob]="bob<&>'\"pw"
	[carol]='carolpw'
	[dave]='пароль dave'
)
for u in alice bob carol dave; do
	printf '%s\n%s\n' "${PW[$u]}" "${PW[$u]}" | prosodyctl --config "$CFG" adduser "$u@$DOMAIN" >/dev/null
done

setsid setpriv --reuid=prosody --regid=prosody --init-groups prosody --config "$CFG" -F >>"$RUN/console.log" 2>&1 </dev/null &
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 50); do [ -s "$RUN/prosody.pid" ] && break; sleep 0.1; done

/usr/bin/python3 "$HERE/people.py" 127.0.0.1 "$PORT" "$DOMAIN" \
	"${PW[alice]}" "${PW[bob]}" "${PW[carol]}" "${PW[dave]}"
stop
trap - EXIT

rm -rf "$HERE/data"
cp -r "$RUN/data" "$HERE/data"
chown -R "$(stat -c %u:%g "$HERE")" "$HERE/data"
chmod -R u+rwX,go+rX "$HERE/data"
echo "regen.sh: wrote $HERE/data"
