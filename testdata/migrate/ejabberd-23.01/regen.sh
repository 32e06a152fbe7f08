#!/usr/bin/env bash
# regen.sh: rewrite the fixtures of this folder with a real ejabberd 23.01
# (Debian's package, run as root: the node runs as the ejabberd user).
#
# For each auth_password_format (scram, plain) it starts a private node
# (pie@localhost; c2s 17222, HTTP 17280, Erlang distribution 17210, all on
# 127.0.0.1; state under /tmp/xmppgate-pie), fills two vhosts with
# populate.py (slixmpp), and writes:
#   <format>/all/      export_piefxis: a main file including one file per vhost
#   <format>/host/     export_piefxis_host of one.example
#   <format>/api.json  what ejabberd's own API answers about the same data
#   <format>/api-imported.json  the same, from a fresh node that imported all/
#   <format>/logins.jsonl  every user of users.json logging in to the node with
#                    slixmpp (SCRAM-SHA-1 and PLAIN): the passwords are the right ones
# The packaged /etc/ejabberd and the system service are never touched.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
RUN=${PIE_RUN:-/tmp/xmppgate-pie}
NODE=pie@localhost
C2S=17222 HTTP=17280 DIST=17210
API=http://127.0.0.1:$HTTP/api
D=$RUN/ejabberd
PIDFILE=$D/ejabberd.pid

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

ctl() {
	env HOME=/var/lib/ejabberd setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
		ejabberdctl --config "$D/ejabberd.yml" --ctl-config "$D/ejabberdctl.cfg" \
		--spool "$D/spool" --logs "$D/log" "$@"
}

wait_port() {
	for ((i = 0; i < 300; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

config() { # FORMAT
	mkdir -p "$D/spool" "$D/log" "$D/out"
	if [ ! -s "$D/cert.pem" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=one.example" \
			-addext "subjectAltName=DNS:one.example,DNS:two.example" \
			-keyout "$D/key.pem" -out "$D/crt.pem" 2>/dev/null
		cat "$D/key.pem" "$D/crt.pem" >"$D/cert.pem"
	fi
	cat >"$D/ejabberdctl.cfg" <<CFG
ERLANG_NODE=$NODE
ERL_DIST_PORT=$DIST
INET_DIST_INTERFACE=127.0.0.1
EJABBERD_PID_PATH=$PIDFILE
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
CONTRIB_MODULES_CONF_DIR=/etc/ejabberd/modules.d
CFG
	cat >"$D/ejabberd.yml" <<CFG
loglevel: info
log_rotate_count: 0
hosts:
  - one.example
  - two.example
certfiles:
  - "$D/cert.pem"
auth_password_format: $1
listen:
  - port: $C2S
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    shaper: none
  - port: $HTTP
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
acl:
  loopback:
    ip:
      - 127.0.0.0/8
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
  "fixtures from loopback":
    from:
      - mod_http_api
    who:
      ip: 127.0.0.1/8
    what: "*"
shaper_rules:
  max_user_offline_messages: 100
modules:
  mod_admin_extra: {}
  mod_disco: {}
  mod_http_api: {}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_private: {}
  mod_roster: {}
  mod_vcard:
    search: false
CFG
	chown -R ejabberd: "$D"
	chmod 755 "$RUN"
}

running() {
	[ -s "$PIDFILE" ] && [ -d "/proc/$(cat "$PIDFILE")" ]
}

start() { # FORMAT
	config "$1"
	log "starting ejabberd $NODE (auth_password_format: $1)"
	ctl start
	ctl started >/dev/null
	wait_port $C2S && wait_port $HTTP
}

stop() {
	running || return 0
	local pid
	pid=$(cat "$PIDFILE")
	ctl stop >/dev/null || true
	for ((i = 0; i < 150; i++)); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
	[ -d "/proc/$pid" ] && kill "$pid" && sleep 2
	rm -f "$PIDFILE"
	log "ejabberd stopped"
}

# logins: every user with SCRAM-SHA-1 and PLAIN, kept in logins.jsonl; fails
# if a SCRAM login fails. (With auth_password_format: plain, 23.01 compares a
# PLAIN password byte for byte with the stored one, so a client that runs it
# through SASLprep, as slixmpp does, is refused when that changes it.)
logins() {
	$PY - "$HERE/users.json" <<'PYEOF' | $PY "$HERE/../../../internal/slixmpptest/login.py" 127.0.0.1 $C2S >"$D/logins.jsonl"
import json, sys
us = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps([{"jid": f"{u}@{h}", "password": p, "mech": m} for h in us for u, p in us[h].items() for m in ("SCRAM-SHA-1", "PLAIN")]))
PYEOF
	if grep '"SCRAM-SHA-1", "ok": false' "$D/logins.jsonl"; then log "a SCRAM login failed"; exit 1; fi
}

trap stop EXIT
mkdir -p "$RUN"
stop
for fmt in scram plain; do
	rm -rf "$D"
	start "$fmt"
	$PY "$HERE/populate.py" populate "$API" $C2S
	$PY "$HERE/populate.py" record "$API" "$D/api.json"
	rm -rf "$D/out" && mkdir -p "$D/out/all" "$D/out/host" && chown -R ejabberd: "$D/out"
	ctl export_piefxis "$D/out/all"
	ctl export_piefxis_host "$D/out/host" one.example
	logins
	stop

	# The same files, imported by a fresh node.
	rm -rf "$D/spool"
	start "$fmt"
	main=$(cd "$D/out/all" && ls | grep -v _)
	ctl import_piefxis "$D/out/all/$main"
	$PY "$HERE/populate.py" record "$API" "$D/api-imported.json"
	stop

	rm -rf "${HERE:?}/$fmt"
	mkdir -p "$HERE/$fmt"
	cp -r "$D/out/all" "$D/out/host" "$D/logins.jsonl" "$D/api.json" "$D/api-imported.json" "$HERE/$fmt/"
	chown -R --reference="$HERE" "$HERE/$fmt"
	chmod -R u+rwX,go+rX "$HERE/$fmt"
	log "$fmt: $(ls "$HERE/$fmt/all" "$HERE/$fmt/host" | tr '\n' ' ')"
done
