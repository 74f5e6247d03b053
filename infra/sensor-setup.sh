#!/usr/bin/env bash
# sensor-setup.sh — turns a fresh Debian 12 EC2 instance into a lurker sensor. The sensor stack's UserData runs it as
# root from the checksum-verified source tarball it unpacked in /opt/lurker/src. Running it again is harmless.
#
#   sensor-setup.sh                          everything: packages, SSM agent, build + install, the lurker user,
#                                            lurker.yaml, sshd policy, supervisord under systemd, start
#   sensor-setup.sh --network-only [--root DIR]
#                                            (re)apply the routing a dual-mode monitored interface needs
#                                            (lurker.service runs this before every start, so it survives reboots)
#   sensor-setup.sh --upgrade                run from a newly unpacked tarball (deploy.sh upgrade, over SSM Run
#                                            Command): build, keep the installed version, stop, install, start,
#                                            health check; on failure put the previous version back and start it.
#                                            The spool (/var/spool/lurker) and the journal are never touched.
#   sensor-setup.sh --health-check           the check CloudFormation's signal waits for (also at the end of an
#                                            upgrade): lurker-ctl status healthy and a SYN to the sensor's own
#                                            public address answered; exit 0 or 1
#   sensor-setup.sh --config-only [--root DIR]
#                                            only discover the network and write the files (lurker.yaml, setup.env,
#                                            the systemd unit) below DIR: no package, build, user or service is
#                                            touched. The tests run this in a network namespace.
#
# Inputs, from the environment (UserData exports them; they are saved in /etc/lurker/setup.env for later runs):
#   LURKER_SENSOR_ID          sensor name, [A-Za-z0-9._-]{1,63}
#   LURKER_BUCKET             pcap bucket; LURKER_BUCKET_REGION its region; LURKER_KEY_PREFIX e.g. sensors/ID/
#   LURKER_FLOW_TIMEOUT       seconds
#   LURKER_NETWORK_MODE       single: the monitored address is the default interface's own;
#                             dual: LURKER_MONITORED_ADDRESS is the private IPv4 of a dedicated interface
#   LURKER_ADMIN_CIDR         empty: sshd is disabled and port 22 belongs to the honeypot; else sshd stays and
#                             port 22 is excluded from answering (single mode)
#   LURKER_REGION             the instance's region (for the SSM agent download)
#   LURKER_METRICS_NAMESPACE  CloudWatch namespace of the health metrics (default Lurker); they go to the bucket's
#                             region, where the sensor stack's alarms watch them
#   LURKER_INTERFACE_WAIT     seconds to wait for the dual-mode interface to get its address (default 30)
#   LURKER_STEP_FILE          where the current step's name is written (the UserData reports it to CloudFormation
#                             when setup fails)
#   LURKER_SELFTEST_ADDRESS   health check: the address to send the SYN to (default: the public address, from IMDS)
#   LURKER_HEALTH_TIMEOUT     health check: seconds each of its two parts may take (default 60)
#   LURKER_CONFIG, LURKER_BIN health check: lurker.yaml and the binaries' directory (default /etc/lurker/lurker.yaml,
#                             /usr/local/bin)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/usr/local
ROOT=""
mode=full

while [ $# -gt 0 ]; do
    case $1 in
        --config-only) mode=config; shift ;;
        --network-only) mode=network; shift ;;
        --upgrade) mode=upgrade; shift ;;
        --health-check) mode=health; shift ;;
        --root) [ $# -ge 2 ] || { echo "--root needs a directory" >&2; exit 2; }; ROOT=$2; shift 2 ;;
        -h|--help) sed -n '2,39p' "$0"; exit 0 ;;
        *) echo "sensor-setup.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

log() { echo "sensor-setup: $*"; }
step() { log "step: $1"; if [ -n "${LURKER_STEP_FILE:-}" ]; then echo "$1" >"$LURKER_STEP_FILE"; fi; }
die() { echo "sensor-setup: error: $*" >&2; exit 1; }

if [[ $mode =~ ^(network|upgrade|health)$ ]] && [ -f "$ROOT/etc/lurker/setup.env" ]; then
    # shellcheck source=/dev/null
    . "$ROOT/etc/lurker/setup.env"
fi

validate_inputs() {
    [[ ${LURKER_SENSOR_ID:-} =~ ^[A-Za-z0-9._-]{1,63}$ ]] || die "LURKER_SENSOR_ID missing or invalid"
    [[ ${LURKER_BUCKET:-} =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "LURKER_BUCKET missing or invalid"
    [[ ${LURKER_BUCKET_REGION:-} =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || die "LURKER_BUCKET_REGION missing or invalid"
    [[ ${LURKER_KEY_PREFIX:-} =~ ^[A-Za-z0-9._/-]*$ ]] || die "LURKER_KEY_PREFIX invalid"
    [[ ${LURKER_FLOW_TIMEOUT:-} =~ ^[0-9]+$ ]] || die "LURKER_FLOW_TIMEOUT missing or invalid"
    [[ ${LURKER_NETWORK_MODE:-} =~ ^(single|dual)$ ]] || die "LURKER_NETWORK_MODE must be single or dual"
    if [ "$LURKER_NETWORK_MODE" = dual ]; then
        [[ ${LURKER_MONITORED_ADDRESS:-} =~ ^[0-9]+(\.[0-9]+){3}$ ]] || die "dual mode needs LURKER_MONITORED_ADDRESS"
    fi
    [[ ${LURKER_ADMIN_CIDR:-} =~ ^$|^[0-9]+(\.[0-9]+){3}/[0-9]+$ ]] || die "LURKER_ADMIN_CIDR invalid"
    : "${LURKER_METRICS_NAMESPACE:=Lurker}"
    [[ $LURKER_METRICS_NAMESPACE =~ ^[A-Za-z0-9._-]{1,255}$ ]] || die "LURKER_METRICS_NAMESPACE invalid"
}

# --- network discovery -------------------------------------------------------------------------------------------

default_interface() {
    ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }'
}

interface_address() { # IFACE -> its first global IPv4 address
    ip -4 -o addr show dev "$1" scope global | awk '{ split($4, a, "/"); print a[1]; exit }'
}

interface_holding() { # ADDRESS -> the interface that has it
    ip -4 -o addr show | awk -v want="$1" '{ split($4, a, "/"); if (a[1] == want) { print $2; exit } }'
}

# IMDSv2 (token first): only on an instance, never in tests (AWS_EC2_METADATA_DISABLED=true refuses).
imds() {
    [ "${AWS_EC2_METADATA_DISABLED:-false}" != true ] || die "instance metadata needed but disabled"
    local token
    token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
    curl -sSf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

# Dual mode: the monitored interface is the one whose ENI owns LURKER_MONITORED_ADDRESS. If the image did not
# configure the second interface, configure it from the instance metadata (subnet of that ENI).
monitored_interface_dual() {
    local addr=$LURKER_MONITORED_ADDRESS iface tries=0
    while iface=$(interface_holding "$addr"); [ -z "$iface" ] && [ $tries -lt "${LURKER_INTERFACE_WAIT:-30}" ]; do
        tries=$((tries + 1)); sleep 1
    done
    if [ -z "$iface" ]; then
        local path candidate mac cidr
        for path in /sys/class/net/*; do
            candidate=${path##*/}
            [ "$candidate" != lo ] || continue
            mac=$(cat "/sys/class/net/$candidate/address")
            if imds "network/interfaces/macs/$mac/local-ipv4s" | grep -qx "$addr"; then
                cidr=$(imds "network/interfaces/macs/$mac/subnet-ipv4-cidr-block")
                ip link set "$candidate" up
                ip addr replace "$addr/${cidr#*/}" dev "$candidate"
                iface=$candidate
                break
            fi
        done
    fi
    [ -n "$iface" ] || die "no interface holds the monitored address $addr"
    echo "$iface"
}

# Replies from the monitored address must leave through its own interface (the VPC drops packets whose source
# address is not the sending ENI's): a routing table for that source. The VPC router is the subnet's first address.
apply_dual_routing() {
    local iface=$1 addr=$2 cidr network gw
    cidr=$(ip -4 -o addr show dev "$iface" scope global |
           awk -v want="$addr" '{ split($4, a, "/"); if (a[1] == want) print $4 }')
    network=$(ip -4 route show dev "$iface" scope link proto kernel | awk '{ print $1; exit }')
    [ -n "$network" ] || network=$cidr
    gw=$(awk -F'[./]' '{ printf "%d.%d.%d.%d", $1, $2, $3, $4 + 1 }' <<<"${network}")
    ip route replace "$network" dev "$iface" src "$addr" table 100
    ip route replace default via "$gw" dev "$iface" table 100
    ip rule del from "$addr" lookup 100 2>/dev/null || true
    ip rule add from "$addr" lookup 100 priority 100
    log "replies from $addr leave through $iface (table 100, gateway $gw)"
}

discover_network() {
    if [ "$LURKER_NETWORK_MODE" = dual ]; then
        MONITORED_INTERFACE=$(monitored_interface_dual)
        MONITORED_ADDRESS=$LURKER_MONITORED_ADDRESS
    else
        MONITORED_INTERFACE=$(default_interface)
        [ -n "$MONITORED_INTERFACE" ] || die "no default route: cannot tell the monitored interface"
        MONITORED_ADDRESS=$(interface_address "$MONITORED_INTERFACE")
        [ -n "$MONITORED_ADDRESS" ] || die "$MONITORED_INTERFACE has no IPv4 address"
    fi
    log "monitored address $MONITORED_ADDRESS on $MONITORED_INTERFACE ($LURKER_NETWORK_MODE mode)"
}

# --- files ---------------------------------------------------------------------------------------------------------

write_setup_env() {
    install -d -m 0755 "$ROOT/etc/lurker"
    {
        echo "# Inputs of sensor-setup.sh (from the CloudFormation parameters), kept for --network-only at boot."
        local v
        for v in LURKER_SENSOR_ID LURKER_BUCKET LURKER_BUCKET_REGION LURKER_KEY_PREFIX LURKER_FLOW_TIMEOUT \
                 LURKER_NETWORK_MODE LURKER_MONITORED_ADDRESS LURKER_ADMIN_CIDR LURKER_REGION \
                 LURKER_METRICS_NAMESPACE; do
            printf '%s=%q\n' "$v" "${!v:-}"
        done
    } >"$ROOT/etc/lurker/setup.env.tmp"
    mv "$ROOT/etc/lurker/setup.env.tmp" "$ROOT/etc/lurker/setup.env"
}

write_config() {
    local exclude="[]" firewall=output
    # single mode shares the address with the host: its sshd keeps port 22 when an admin may use it.
    if [ "$LURKER_NETWORK_MODE" = single ] && [ -n "${LURKER_ADMIN_CIDR:-}" ]; then exclude="[22]"; fi
    # dual mode: the interface is the honeypot's alone, so drop its traffic before the kernel's TCP sees it.
    if [ "$LURKER_NETWORK_MODE" = dual ]; then firewall=ingress; fi
    install -d -m 0755 "$ROOT/etc/lurker"
    cat >"$ROOT/etc/lurker/lurker.yaml.tmp" <<EOF
# Written by infra/sensor-setup.sh from the sensor stack's parameters; every other key keeps the default
# documented in $PREFIX/share/lurker/lurker.yaml. Check with: lurker-responder -c /etc/lurker/lurker.yaml --check
sensor_id: $LURKER_SENSOR_ID
log_level: info
interface: $MONITORED_INTERFACE
addresses:
  - $MONITORED_ADDRESS
user: lurker
shm_name: /lurker
responder:
  exclude_ports: $exclude
  firewall: $firewall
capturer:
  flow_timeout: ${LURKER_FLOW_TIMEOUT}s
spool:
  directory: /var/spool/lurker
shipper:
  storage: s3
  # Health metrics to CloudWatch in the bucket's region (s3.region), signed with the instance role, which may
  # publish to this namespace only. The sensor stack's alarms expect one publication a minute.
  metrics: cloudwatch
  metrics_namespace: "$LURKER_METRICS_NAMESPACE"
  metrics_interval: 60s
  s3:
    bucket: "$LURKER_BUCKET"
    region: "$LURKER_BUCKET_REGION"
    prefix: "$LURKER_KEY_PREFIX"
EOF
    mv "$ROOT/etc/lurker/lurker.yaml.tmp" "$ROOT/etc/lurker/lurker.yaml"
    log "wrote $ROOT/etc/lurker/lurker.yaml"
}

install_unit_files() {
    install -d -m 0755 "$ROOT/etc/systemd/system"
    install -m 0644 "$SRC/infra/systemd/lurker.service" "$ROOT/etc/systemd/system/lurker.service"
    if [ -f "$SRC/infra/nftables/lurker.nft" ]; then
        # for operators who set responder.firewall: none and load the rules themselves
        install -m 0644 "$SRC/infra/nftables/lurker.nft" "$ROOT/etc/lurker/lurker.nft"
    fi
}

# --- system (full mode only) -------------------------------------------------------------------------------------

install_packages() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends build-essential pkg-config libpcap-dev libcurl4-openssl-dev \
        libssl-dev libyaml-dev libjansson-dev libseccomp-dev supervisor nftables curl ca-certificates
    # The supervisor package's own service runs /etc/supervisor/supervisord.conf; lurker.service runs ours.
    systemctl disable --now supervisor.service || true
}

# Debian's AMIs carry no SSM agent; AWS publishes the package in a bucket of each region.
install_ssm_agent() {
    if systemctl list-unit-files amazon-ssm-agent.service >/dev/null 2>&1 &&
       systemctl list-unit-files amazon-ssm-agent.service | grep -q amazon-ssm-agent; then
        return 0
    fi
    local arch deb
    case $(uname -m) in aarch64) arch=arm64 ;; x86_64) arch=amd64 ;; *) die "unknown machine $(uname -m)" ;; esac
    deb=$(mktemp --suffix=.deb)
    curl -sSfL -o "$deb" \
        "https://s3.$LURKER_REGION.amazonaws.com/amazon-ssm-$LURKER_REGION/latest/debian_$arch/amazon-ssm-agent.deb"
    dpkg -i "$deb"
    rm -f "$deb"
    systemctl enable --now amazon-ssm-agent.service
}

build_and_install() {
    make -C "$SRC" -j"$(nproc)" all
    make -C "$SRC" install PREFIX="$PREFIX"
    install -d "$PREFIX/sbin"
    ln -sf "$PREFIX/share/lurker/infra/lurker-supervisorctl" "$PREFIX/sbin/lurker-supervisorctl"
}

create_user() {
    id lurker >/dev/null 2>&1 ||
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lurker
    install -d -m 0750 -o lurker -g lurker /var/spool/lurker /var/lib/lurker
    install -d -m 0750 /var/log/lurker
}

apply_ssh_policy() {
    if [ -z "${LURKER_ADMIN_CIDR:-}" ]; then
        # No admin CIDR: nobody may reach sshd, and port 22 becomes part of the honeypot. Management: SSM.
        systemctl disable --now ssh.service ssh.socket 2>/dev/null || true
        log "sshd disabled (use: aws ssm start-session --target INSTANCE)"
    fi
}

start_services() {
    systemctl daemon-reload
    systemctl enable lurker.service
    systemctl restart lurker.service
}

# The public address scanners reach (IMDS: the primary interface's, or in dual mode the monitored interface's).
public_address() {
    if [ -n "${LURKER_SELFTEST_ADDRESS:-}" ]; then echo "$LURKER_SELFTEST_ADDRESS"; return 0; fi
    if [ "$LURKER_NETWORK_MODE" = dual ]; then
        imds "network/interfaces/macs/$(cat "/sys/class/net/$MONITORED_INTERFACE/address")/public-ipv4s" | head -n 1
    else
        imds public-ipv4
    fi
}

# Healthy means: lurker-ctl status exits 0 (every process alive, heartbeats fresh) and a SYN sent to the sensor's
# own public address from here (out through the internet gateway and back) is answered with a SYN+ACK. Port 9
# has no listener on the host, so only the responder can complete that handshake.
verify_health() {
    local config=${LURKER_CONFIG:-/etc/lurker/lurker.yaml} ctl=${LURKER_BIN:-$PREFIX/bin}/lurker-ctl
    local deadline address=""
    deadline=$((SECONDS + ${LURKER_HEALTH_TIMEOUT:-60}))
    until "$ctl" -c "$config" status >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            "$ctl" -c "$config" status || true
            log "lurker-ctl status still unhealthy after ${LURKER_HEALTH_TIMEOUT:-60} s"
            return 1
        fi
        sleep 2
    done
    "$ctl" -c "$config" status
    deadline=$((SECONDS + ${LURKER_HEALTH_TIMEOUT:-60}))
    while :; do
        address=$(public_address 2>/dev/null || true)
        # shellcheck disable=SC2016  # $1 is expanded by the inner bash
        if [ -n "$address" ] && timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/9"' _ "$address" 2>/dev/null; then
            log "a SYN to $address:9 was answered: healthy"
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || break
        sleep 2
    done
    log "no answer to a SYN to ${address:-the public address (none known)}:9 within ${LURKER_HEALTH_TIMEOUT:-60} s"
    return 1
}

# --upgrade: what is installed now is kept in one archive, so a failed upgrade can put it back.
INSTALLED_FILES=(usr/local/bin usr/local/share/lurker etc/systemd/system/lurker.service)
PREVIOUS=/var/lib/lurker-upgrade/previous.tar

upgrade() {
    install -d -m 0700 "$(dirname "$PREVIOUS")"
    step build
    make -C "$SRC" -j"$(nproc)" all
    step keep-previous
    tar -C / -cf "$PREVIOUS" "${INSTALLED_FILES[@]}"
    step stop
    # A clean stop: the capturer writes its open flows, the shipper keeps what it has not shipped in the spool.
    systemctl stop lurker.service
    step install
    if ! { build_and_install && discover_network && write_config && install_unit_files && start_services &&
           verify_health; }; then
        log "upgrade failed: putting the previous version back"
        systemctl stop lurker.service || true
        tar -C / -xf "$PREVIOUS"
        systemctl daemon-reload
        systemctl restart lurker.service
        verify_health || log "the previous version is not healthy either"
        return 1
    fi
    log "upgraded to $(basename "$SRC") at $(date -u +%FT%TZ)"
}

# --- main ---------------------------------------------------------------------------------------------------------

validate_inputs
case $mode in
    network)
        discover_network
        if [ "$LURKER_NETWORK_MODE" = dual ]; then apply_dual_routing "$MONITORED_INTERFACE" "$MONITORED_ADDRESS"; fi
        ;;
    config)
        discover_network
        write_setup_env
        write_config
        install_unit_files
        ;;
    upgrade)
        [ "$(id -u)" = 0 ] || die "run as root"
        upgrade
        ;;
    health)
        if [ "$LURKER_NETWORK_MODE" = dual ] && [ -z "${LURKER_SELFTEST_ADDRESS:-}" ]; then discover_network; fi
        verify_health
        ;;
    full)
        [ "$(id -u)" = 0 ] || die "run as root (or use --config-only)"
        step packages-for-build
        install_packages
        step ssm-agent
        install_ssm_agent
        step build
        build_and_install
        step configure
        create_user
        discover_network
        if [ "$LURKER_NETWORK_MODE" = dual ]; then apply_dual_routing "$MONITORED_INTERFACE" "$MONITORED_ADDRESS"; fi
        write_setup_env
        write_config
        "$PREFIX/bin/lurker-responder" -c /etc/lurker/lurker.yaml --check
        install_unit_files
        apply_ssh_policy
        step start
        start_services
        step health-check
        verify_health
        log "done at $(date -u +%FT%TZ)"
        ;;
esac
