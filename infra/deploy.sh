#!/usr/bin/env bash
# deploy.sh — put a lurker sensor on the internet, or take everything down again.
#
#   infra/deploy.sh [OPTIONS] [deploy]     build + upload artifacts, then deploy backend -> sensor -> its alarms
#                                          -> output
#   infra/deploy.sh [OPTIONS] upgrade      build + upload a new tarball and upgrade running sensors in place
#                                          (SSM Run Command; no instance is replaced, the spool is kept)
#   infra/deploy.sh [OPTIONS] teardown     delete output, sensor and alarm stacks, empty the buckets, delete the
#                                          backend
#   infra/deploy.sh [OPTIONS] status       print the summary of what is deployed
#
# Run with --help for the options. --dry-run prints every command (aws, make, tar) instead of running it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)

name=lurker
sensor_id=sensor-1
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
sensor_region=""
network_mode=single
instance_type=t4g.nano
image_param=""
admin_cidr=""
key_name=""
rotation_schedule=""
vpc_id=""
subnet_id=""
flow_timeout=60
pcap_retention_days=90
log_retention_days=90
alert_email=""
no_traffic_minutes=60
no_upload_minutes=60
kernel_drops_threshold=1000
backlog_age_seconds=900
dashboard=true
fleet_dashboard=true
monthly_budget=0
recreate=0
replace_image=0
all_sensors=0
lambda_zip=""
lambda_arm64=0
tarball=""
template_dir=$ROOT/infra
endpoint_url=""
dry_run=0
skip_sensor=0
skip_output=0
command=deploy

usage() {
    cat <<EOF
usage: infra/deploy.sh [OPTIONS] [deploy|upgrade|teardown|status]

Stacks: NAME-backend, NAME-output and NAME-alarms-SENSOR_ID in --region, NAME-sensor-SENSOR_ID in --sensor-region.

  --name NAME               stack name prefix, lowercase (default: $name)
  --sensor-id ID            sensor name, also its S3 prefix sensors/ID/ (default: $sensor_id)
  --region REGION           region of the backend and output stacks (default: \$AWS_REGION, else us-east-1)
  --sensor-region REGION    region of the sensor stack (default: --region)
  --network-mode MODE       single (one interface, one public IPv4) or dual (management + monitored,
                            two Elastic IPs) (default: $network_mode)
  --instance-type TYPE      (default: $instance_type; t3/t3a types need --image-param ...-amd64)
  --image-param PATH        public SSM parameter naming the AMI, resolved once when the sensor stack is created
                            and then pinned (default: /aws/service/debian/release/12/latest/arm64, or .../amd64
                            for t3/t3a types)
  --replace-image           move an existing sensor to the image the parameter names now: its spool is drained
                            (capture stopped, every pcap shipped) before CloudFormation replaces the instance
  --admin-cidr CIDR         allow SSH from CIDR (default: none; use SSM Session Manager)
  --key-name NAME           EC2 key pair for SSH (with --admin-cidr)
  --rotation-schedule EXPR  dual mode: move to a fresh public IPv4 on this schedule, e.g. 'rate(1 day)'
  --vpc-id ID --subnet-id ID  where the sensor goes (default: the default VPC and its first default subnet)
  --flow-timeout SECONDS    idle time that ends a flow (default: $flow_timeout)
  --pcap-retention-days N   days S3 keeps pcaps (default: $pcap_retention_days)
  --log-retention-days N    days CloudWatch keeps flow records (default: $log_retention_days)
  --alert-email ADDRESS     send every alarm to ADDRESS (AWS mails a confirmation link first) (default: none;
                            the alarms still notify the backend's AlertTopic, for any other subscriber)
  --no-traffic-minutes N    alarm when a sensor sent no SYN+ACK for N minutes (default: $no_traffic_minutes)
  --no-upload-minutes N     alarm when a sensor shipped no pcap for N minutes (default: $no_upload_minutes)
  --kernel-drops-threshold N  alarm when more than N packets are dropped before capture in 5 minutes
                            (default: $kernel_drops_threshold)
  --backlog-age-seconds N   alarm when the oldest unshipped pcap is older than N seconds (default: $backlog_age_seconds)
  --no-dashboard            no CloudWatch dashboard for the sensor (an account's first three are free, then
                            \$3/month each)
  --no-fleet-dashboard      no fleet dashboard in the backend stack
  --monthly-budget USD      with --alert-email: an AWS Budgets alert at 80% (actual) / 100% (forecast) of USD
  --recreate                a stack left in ROLLBACK_COMPLETE (its creation failed) is deleted and created again
  --all                     upgrade: every sensor of NAME (found by its alarm stack), not only --sensor-id
  --lambda-zip FILE         use this analyzer package instead of running \`make lambda\`
  --lambda-arm64            build the analyzer for an arm64 Lambda (20% cheaper) with \`make lambda-arm64\`
                            (cross-built on an x86_64 Debian host: .ci/packages.d/lambda-arm64.txt)
  --tarball FILE            use this source tarball instead of packing the work tree
  --no-sensor               deploy (or tear down) only backend and output
  --no-output               deploy (or tear down) only backend and sensor
  --template-dir DIR        where backend.yml, sensor.yml, output.yml are (default: infra/)
  --endpoint-url URL        send every aws command to URL (an S3/CloudFormation-compatible test server)
  --dry-run                 print each command instead of running it
  -h, --help                this text
EOF
}

die() { echo "deploy.sh: $*" >&2; exit 1; }
need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi; }

while [ $# -gt 0 ]; do
    case $1 in
        --name) need_value "$@"; name=$2; shift 2 ;;
        --sensor-id) need_value "$@"; sensor_id=$2; shift 2 ;;
        --region) need_value "$@"; region=$2; shift 2 ;;
        --sensor-region) need_value "$@"; sensor_region=$2; shift 2 ;;
        --network-mode) need_value "$@"; network_mode=$2; shift 2 ;;
        --instance-type) need_value "$@"; instance_type=$2; shift 2 ;;
        --image-param) need_value "$@"; image_param=$2; shift 2 ;;
        --admin-cidr) need_value "$@"; admin_cidr=$2; shift 2 ;;
        --key-name) need_value "$@"; key_name=$2; shift 2 ;;
        --rotation-schedule) need_value "$@"; rotation_schedule=$2; shift 2 ;;
        --vpc-id) need_value "$@"; vpc_id=$2; shift 2 ;;
        --subnet-id) need_value "$@"; subnet_id=$2; shift 2 ;;
        --flow-timeout) need_value "$@"; flow_timeout=$2; shift 2 ;;
        --pcap-retention-days) need_value "$@"; pcap_retention_days=$2; shift 2 ;;
        --log-retention-days) need_value "$@"; log_retention_days=$2; shift 2 ;;
        --alert-email) need_value "$@"; alert_email=$2; shift 2 ;;
        --no-traffic-minutes) need_value "$@"; no_traffic_minutes=$2; shift 2 ;;
        --no-upload-minutes) need_value "$@"; no_upload_minutes=$2; shift 2 ;;
        --kernel-drops-threshold) need_value "$@"; kernel_drops_threshold=$2; shift 2 ;;
        --backlog-age-seconds) need_value "$@"; backlog_age_seconds=$2; shift 2 ;;
        --lambda-zip) need_value "$@"; lambda_zip=$2; shift 2 ;;
        --lambda-arm64) lambda_arm64=1; shift ;;
        --tarball) need_value "$@"; tarball=$2; shift 2 ;;
        --template-dir) need_value "$@"; template_dir=$2; shift 2 ;;
        --endpoint-url) need_value "$@"; endpoint_url=$2; shift 2 ;;
        --no-dashboard) dashboard=false; shift ;;
        --no-fleet-dashboard) fleet_dashboard=false; shift ;;
        --monthly-budget) need_value "$@"; monthly_budget=$2; shift 2 ;;
        --recreate) recreate=1; shift ;;
        --replace-image) replace_image=1; shift ;;
        --all) all_sensors=1; shift ;;
        --no-sensor) skip_sensor=1; shift ;;
        --no-output) skip_output=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        deploy|upgrade|teardown|status) command=$1; shift ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

: "${sensor_region:=$region}"
[[ $name =~ ^[a-z][a-z0-9-]{0,29}$ ]] || die "--name must be lowercase letters, digits and '-', at most 30 characters"
[[ $sensor_id =~ ^[A-Za-z0-9._-]{1,63}$ ]] || die "--sensor-id must be 1-63 of [A-Za-z0-9._-]"
[[ $network_mode =~ ^(single|dual)$ ]] || die "--network-mode must be single or dual"
[[ $flow_timeout =~ ^[0-9]+$ ]] || die "--flow-timeout must be a number of seconds"
[[ -z $alert_email || $alert_email =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]] ||
    die "--alert-email must be an e-mail address"
for minutes in "$no_traffic_minutes" "$no_upload_minutes"; do
    if ! [[ $minutes =~ ^[0-9]+$ ]] || [ "$minutes" -lt 5 ] || [ "$minutes" -gt 1440 ]; then
        die "--no-traffic-minutes and --no-upload-minutes must be 5..1440"
    fi
done
[[ $kernel_drops_threshold =~ ^[0-9]+$ ]] || die "--kernel-drops-threshold must be a number"
if ! [[ $backlog_age_seconds =~ ^[0-9]+$ ]] || [ "$backlog_age_seconds" -lt 60 ]; then
    die "--backlog-age-seconds must be a number of seconds, at least 60"
fi
[[ $monthly_budget =~ ^[0-9]+$ ]] || die "--monthly-budget must be a whole number of USD"
if [ "$monthly_budget" != 0 ] && [ -z "$alert_email" ]; then die "--monthly-budget needs --alert-email"; fi
[[ -z $admin_cidr || $admin_cidr =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] ||
    die "--admin-cidr must be an IPv4 CIDR"
if [ -n "$rotation_schedule" ] && [ "$network_mode" != dual ]; then
    die "--rotation-schedule needs --network-mode dual"
fi
sensor_stack_suffix=$(printf '%s' "$sensor_id" | tr -c 'A-Za-z0-9-' '-')

backend_stack=$name-backend
sensor_stack=$name-sensor-$sensor_stack_suffix
alarms_stack=$name-alarms-$sensor_stack_suffix
output_stack=$name-output

endpoint_args=()
[ -n "$endpoint_url" ] && endpoint_args=(--endpoint-url "$endpoint_url")

# Prints a command as a shell would read it (on stderr, like the progress lines of the commands themselves).
show() { { printf '+'; printf ' %q' "$@"; printf '\n'; } >&2; }

# run CMD...: runs a command that changes something (or only shows it with --dry-run).
run() {
    if [ "$dry_run" = 1 ]; then show "$@"; return 0; fi
    "$@"
}

# aws_in REGION ARGS...: one aws command, with the endpoint override.
aws_in() {
    local r=$1; shift
    run aws "${endpoint_args[@]}" --region "$r" "$@"
}

# query REGION PLACEHOLDER ARGS...: an aws command whose text output we need; --dry-run shows it and
# returns PLACEHOLDER instead.
query() {
    local r=$1 placeholder=$2; shift 2
    if [ "$dry_run" = 1 ]; then show aws "${endpoint_args[@]}" --region "$r" "$@"; echo "$placeholder"; return 0; fi
    aws "${endpoint_args[@]}" --region "$r" "$@"
}

# load_outputs REGION STACK: reads all Outputs of STACK at once (one call, once); `output STACK KEY` then prints one.
declare -A OUTPUTS=()
declare -A LOADED=()
load_outputs() {
    local key value
    [ -z "${LOADED["$2"]+set}" ] || return 0
    if [ "$dry_run" = 1 ]; then
        show aws "${endpoint_args[@]}" --region "$1" cloudformation describe-stacks --stack-name "$2" \
            --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
        return 0
    fi
    local text
    text=$(aws "${endpoint_args[@]}" --region "$1" cloudformation describe-stacks --stack-name "$2" \
               --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text) || return 1
    while IFS=$'\t' read -r key value; do
        [ -n "$key" ] && OUTPUTS["$2/$key"]=$value
    done <<<"$text"
    LOADED["$2"]=1
}
output() {
    if [ -n "${OUTPUTS["$1/$2"]+set}" ]; then echo "${OUTPUTS["$1/$2"]}"
    elif [ "$dry_run" = 1 ]; then echo "<$1:$2>"
    else die "stack $1 has no output $2"; fi
}

# stack_status REGION STACK: its status, or NONE when it does not exist (--dry-run: NONE).
stack_status() {
    local out
    if [ "$dry_run" = 1 ]; then echo NONE; return 0; fi
    if ! out=$(aws "${endpoint_args[@]}" --region "$1" cloudformation describe-stacks --stack-name "$2" \
                   --query 'Stacks[0].StackStatus' --output text 2>&1); then
        if grep -q 'does not exist' <<<"$out"; then echo NONE; return 0; fi
        echo "$out" >&2; die "cannot read the status of $2 in $1"
    fi
    echo "$out"
}

# stack_parameter REGION STACK KEY: a parameter's current value (empty when the stack or the key is absent).
stack_parameter() {
    if [ "$dry_run" = 1 ]; then echo ""; return 0; fi
    aws "${endpoint_args[@]}" --region "$1" cloudformation describe-stacks --stack-name "$2" \
        --query "Stacks[0].Parameters[?ParameterKey=='$3'].ParameterValue | [0]" --output text 2>/dev/null |
        sed 's/^None$//'
}

# Why a stack failed: its first *_FAILED events, oldest first.
show_failure() {
    [ "$dry_run" = 0 ] || return 0
    echo "deploy.sh: $2 ($1) failed; the first failed resources:" >&2
    local failed="reverse(StackEvents[?ends_with(ResourceStatus, 'FAILED')])[:5]"
    aws "${endpoint_args[@]}" --region "$1" cloudformation describe-stack-events --stack-name "$2" \
        --query "$failed.[LogicalResourceId,ResourceStatus,ResourceStatusReason]" --output text >&2 2>/dev/null || true
}

# The parameters as a JSON file for --parameters file://...: the CLI's short form
# (ParameterKey=K,ParameterValue=V) splits values at commas, e.g. a cron(0 8,20 * * ? *) schedule.
PARAM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lurker-deploy.XXXXXX")
trap 'rm -rf "$PARAM_DIR"' EXIT
parameter_file() { # NAME KEY=VALUE... -> path of the file
    local file=$PARAM_DIR/$1.json kv; shift
    for kv in "$@"; do
        jq -cn --arg k "${kv%%=*}" --arg v "${kv#*=}" '{ParameterKey: $k, ParameterValue: $v}'
    done | jq -s . >"$file"
    echo "$file"
}

wait_stack() { # REGION STACK create|update|delete
    if ! aws_in "$1" cloudformation wait "stack-$3-complete" --stack-name "$2"; then
        show_failure "$1" "$2"; die "$2 did not reach ${3^^}_COMPLETE"
    fi
}

# deploy_stack REGION STACK TEMPLATE KEY=VALUE...: create the stack, or update it when it exists, and wait.
# A stack in ROLLBACK_COMPLETE (a failed creation) can only be deleted: say so, or with --recreate do it.
# (create/update-stack rather than `cloudformation deploy`: the same calls work against test servers that
# implement change sets only partly.)
deploy_stack() {
    local r=$1 stack=$2 template=$3 params err status
    shift 3
    params=$(parameter_file "$stack" "$@")
    echo "== $stack ($r) from $(basename "$template")"
    if [ "$dry_run" = 1 ]; then
        echo "   parameters ($params):"; jq -c '.[]' "$params" | sed 's/^/     /'
    fi
    status=$(stack_status "$r" "$stack")
    case $status in
        ROLLBACK_COMPLETE|ROLLBACK_FAILED|DELETE_FAILED)
            show_failure "$r" "$stack"
            if [ "$recreate" = 0 ]; then
                die "$stack ($r) is in $status: its creation failed (reasons above; all events:" \
                    "aws cloudformation describe-stack-events --region $r --stack-name $stack)." \
                    "It cannot be updated. Run again with --recreate to delete it and create it anew."
            fi
            echo "   $status: deleting it first (--recreate)"
            delete_stack "$r" "$stack"
            status=NONE ;;
        *_IN_PROGRESS) die "$stack ($r) is busy ($status): wait until it is done, then run again" ;;
    esac
    if [ "$status" = NONE ]; then
        aws_in "$r" cloudformation create-stack --stack-name "$stack" --template-body "file://$template" \
            --capabilities CAPABILITY_IAM --parameters "file://$params" >/dev/null
        wait_stack "$r" "$stack" create
        return 0
    fi
    if ! err=$(aws "${endpoint_args[@]}" --region "$r" cloudformation update-stack --stack-name "$stack" \
                   --template-body "file://$template" --capabilities CAPABILITY_IAM --parameters "file://$params" \
                   2>&1 >/dev/null); then
        if grep -q 'No updates are to be performed' <<<"$err"; then echo "   (unchanged)"; return 0; fi
        echo "$err" >&2; die "updating $stack failed"
    fi
    wait_stack "$r" "$stack" update
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The source tree as a reproducible tarball (same content, same checksum): what the sensor builds from.
build_tarball() {
    local out=$ROOT/build/deploy/lurker-src.tar.gz
    local tar_cmd=(tar -C "$ROOT" -cf - --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --exclude-vcs
                   --exclude=./build --exclude=./build-san --exclude=./build-fuzz --exclude=./bin --exclude=./bin-san
                   --exclude=./bin-fuzz --exclude=./build-arm64 --exclude=./bin-arm64 --exclude='*.o' --exclude='*.d' .)
    if [ "$dry_run" = 1 ]; then
        show "${tar_cmd[@]}"; echo "  | gzip -n > $out" >&2
        echo "$out"; return 0
    fi
    mkdir -p "$(dirname "$out")"
    "${tar_cmd[@]}" | gzip -n >"$out"
    echo "$out"
}

build_lambda() {
    local target=lambda build=build
    if [ "$lambda_arm64" = 1 ]; then target="lambda-arm64"; build="build-arm64"; fi
    if [ "$dry_run" = 1 ]; then
        show make -C "$ROOT" "$target"; echo "$ROOT/$build/lambda/lurker-analyzer-lambda.zip"; return 0
    fi
    make -C "$ROOT" "$target" >&2
    echo "$ROOT/$build/lambda/lurker-analyzer-lambda.zip"
}

# x86_64 or arm64, read from the package's bootstrap.
lambda_architecture() {
    if [ "$dry_run" = 1 ] && [ ! -f "$1" ]; then echo "<architecture of bootstrap>"; return 0; fi
    # e_machine: the two bytes at offset 18 of the ELF header
    case $(unzip -p "$1" bootstrap | od -An -tx1 -j18 -N2 | tr -d ' \n') in
        b700) echo arm64 ;;
        3e00) echo x86_64 ;;
        *) die "$1: bootstrap is neither an x86-64 nor an AArch64 ELF file" ;;
    esac
}

# Where the sensor goes, checked before any stack is created: the subnet is in the VPC, the instance type is offered
# in the subnet's zone, the subnet routes to an internet gateway. Without --subnet-id: the default VPC's default
# subnet (public by definition) in the first zone that offers the type.
check_network() {
    local zone subnet_vpc zones
    if [ -n "$vpc_id" ] && [ -z "$subnet_id" ]; then
        die "--vpc-id needs --subnet-id (a public subnet of $vpc_id: one whose route table has an internet gateway)"
    fi
    # the zones that offer the instance type
    zones=$(query "$sensor_region" "<zones offering $instance_type>" ec2 describe-instance-type-offerings \
        --location-type availability-zone --filters "Name=instance-type,Values=$instance_type" \
        --query 'InstanceTypeOfferings[].Location' --output text)
    if [ -z "$zones" ] || [ "$zones" = None ]; then
        die "$instance_type is not offered in any zone of $sensor_region"
    fi
    if [ -z "$subnet_id" ]; then
        vpc_id=$(query "$sensor_region" "<default VPC>" ec2 describe-vpcs --filters Name=isDefault,Values=true \
            --query 'Vpcs[0].VpcId' --output text)
        if [ -z "$vpc_id" ] || [ "$vpc_id" = None ]; then
            die "no default VPC in $sensor_region: give --vpc-id and --subnet-id"
        fi
        subnet_id=$(query "$sensor_region" "<default subnet of $vpc_id in a zone offering $instance_type>" \
            ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc_id" Name=default-for-az,Values=true \
            "Name=availability-zone,Values=${zones//[[:space:]]/,}" \
            --query 'sort_by(Subnets,&AvailabilityZone)[0].SubnetId' --output text)
        if [ -z "$subnet_id" ] || [ "$subnet_id" = None ]; then
            die "no default subnet of $vpc_id is in a zone that offers $instance_type ($zones): give --subnet-id"
        fi
        return 0
    fi
    [ "$dry_run" = 0 ] || return 0
    read -r subnet_vpc zone < <(aws "${endpoint_args[@]}" --region "$sensor_region" ec2 describe-subnets \
        --subnet-ids "$subnet_id" --query 'Subnets[0].[VpcId,AvailabilityZone]' --output text 2>/dev/null) ||
        die "subnet $subnet_id does not exist in $sensor_region"
    [ -z "$vpc_id" ] || [ "$vpc_id" = "$subnet_vpc" ] || die "subnet $subnet_id is in $subnet_vpc, not in $vpc_id"
    vpc_id=$subnet_vpc
    grep -qw -- "$zone" <<<"$zones" ||
        die "$instance_type is not offered in $zone (subnet $subnet_id); it is in: $zones"
    subnet_is_public "$subnet_id" "$vpc_id" ||
        die "subnet $subnet_id has no route to an internet gateway: scanners could not reach the sensor (give a" \
            "public subnet)"
}

# A public subnet: its route table (its own, else its VPC's main one) sends 0.0.0.0/0 to an internet gateway.
subnet_is_public() { # SUBNET VPC
    local table filters
    table=$(aws "${endpoint_args[@]}" --region "$sensor_region" ec2 describe-route-tables \
        --filters "Name=association.subnet-id,Values=$1" --query "RouteTables[0].RouteTableId" --output text)
    if [ -n "$table" ] && [ "$table" != None ]; then
        filters=("Name=route-table-id,Values=$table")
    else
        filters=("Name=vpc-id,Values=$2" "Name=association.main,Values=true")
    fi
    [[ $(aws "${endpoint_args[@]}" --region "$sensor_region" ec2 describe-route-tables --filters "${filters[@]}" \
             --query "RouteTables[0].Routes[?DestinationCidrBlock=='0.0.0.0/0'].GatewayId" --output text) == igw-* ]]
}

# The AMI: resolved from the public parameter when the stack is created (or with --replace-image), otherwise the
# id the stack already runs, so that an update never replaces the instance because Debian published a new image.
resolve_image() {
    local pinned param=$image_param
    pinned=$(stack_parameter "$sensor_region" "$sensor_stack" ImageId)
    if [ -n "$pinned" ] && [ "$replace_image" = 0 ]; then echo "$pinned"; return 0; fi
    if [ -z "$param" ]; then
        case $instance_type in
            t4g.*) param=/aws/service/debian/release/12/latest/arm64 ;;
            *) param=/aws/service/debian/release/12/latest/amd64 ;;
        esac
    fi
    query "$sensor_region" "<AMI of $param>" ssm get-parameter --name "$param" --query Parameter.Value --output text
}

print_summary() {
    local bucket topic alerts address instance log_group query_text console
    load_outputs "$region" "$backend_stack"
    bucket=$(output "$backend_stack" PcapBucketName)
    topic=$(output "$backend_stack" PcapTopicArn)
    alerts=$(output "$backend_stack" AlertTopicArn)
    echo
    echo "pcap bucket:    s3://$bucket/sensors/"
    echo "topic:          $topic"
    if [ -n "$alert_email" ]; then
        echo "alerts:         $alerts (to $alert_email once its confirmation link is followed)"
    else
        echo "alerts:         $alerts"
    fi
    if [ -n "${OUTPUTS["$backend_stack/FleetDashboardUrl"]+set}" ] || [ "$dry_run" = 1 ]; then
        echo "fleet:          $(output "$backend_stack" FleetDashboardUrl)"
    fi
    if [ "$skip_sensor" = 0 ]; then
        load_outputs "$sensor_region" "$sensor_stack"
        address=$(output "$sensor_stack" SensorAddress)
        instance=$(output "$sensor_stack" InstanceId)
        echo "sensor:         $sensor_id at $address ($instance, $sensor_region)"
        echo "shell:          aws ssm start-session --region $sensor_region --target $instance"
        echo "setup log:      $(output "$sensor_stack" SetupLogGroup) ($sensor_region)"
        # (optional output: a stack deployed with --no-dashboard lacks it)
        if [ -n "${OUTPUTS["$sensor_stack/DashboardUrl"]+set}" ] || [ "$dry_run" = 1 ]; then
            echo "dashboard:      $(output "$sensor_stack" DashboardUrl)"
        fi
        load_outputs "$region" "$alarms_stack"
        echo "alarms:         $(output "$alarms_stack" Alarms)"
    fi
    if [ "$skip_output" = 0 ]; then
        load_outputs "$region" "$output_stack"
        log_group=$(output "$output_stack" LogGroupName)
        query_text=$(output "$output_stack" InsightsQuery)
        console=$(output "$output_stack" InsightsConsole)
        echo "log group:      $log_group"
        echo "insights query: $query_text"
        echo "insights:       $console"
        echo "records:        s3://$(output "$output_stack" RecordsBucketName)/records/"
        if [ -n "${OUTPUTS["$output_stack/AthenaDatabase"]+set}" ] || [ "$dry_run" = 1 ]; then
            echo "athena:         database $(output "$output_stack" AthenaDatabase), workgroup" \
                 "$(output "$output_stack" AthenaWorkGroup) (named queries: top-ports, ...)"
        fi
    fi
}

# The sensor tarball in the artifacts bucket, named by its checksum: sets tarball_key and tarball_sha.
tarball_key=""
tarball_sha=""
upload_tarball() {
    local artifacts=$1
    [ -n "$tarball" ] || tarball=$(build_tarball)
    if [ "$dry_run" = 1 ]; then
        tarball_sha="<sha256 of $(basename "$tarball")>"; tarball_key="lurker/lurker-src-<sha256 prefix>.tar.gz"
    else
        tarball_sha=$(sha256_of "$tarball"); tarball_key=lurker/lurker-src-${tarball_sha:0:16}.tar.gz
    fi
    aws_in "$region" s3 cp --only-show-errors "$tarball" "s3://$artifacts/$tarball_key"
}

deploy_alarms() { # ALERT_TOPIC: the sensor's alarms, in the backend's region where its metrics are
    deploy_stack "$region" "$alarms_stack" "$template_dir/sensor-alarms.yml" \
        "SensorId=$sensor_id" "SensorStackName=$sensor_stack" "SensorRegion=$sensor_region" \
        "AlertTopicArn=$1" "NoTrafficMinutes=$no_traffic_minutes" "NoUploadMinutes=$no_upload_minutes" \
        "KernelDropsThreshold=$kernel_drops_threshold" "BacklogAgeSeconds=$backlog_age_seconds"
}

do_deploy() {
    local zip_sha zip_key artifacts bucket topic alerts arch image="" status
    [ "$skip_output" = 1 ] || [ -n "$lambda_zip" ] || lambda_zip=$(build_lambda)
    if [ "$skip_output" = 0 ] && [ "$dry_run" = 0 ]; then
        "$ROOT/infra/check-lambda-package.sh" "$lambda_zip"
    fi
    # everything that can be checked is checked before any stack is created or changed
    if [ "$skip_sensor" = 0 ]; then
        check_network
        image=$(resolve_image)
        [[ $image =~ ^ami-[0-9a-f]+$ ]] || [ "$dry_run" = 1 ] || die "no AMI found for the sensor (got '$image')"
        status=$(stack_status "$sensor_region" "$sensor_stack")
        if [ "$replace_image" = 1 ] && [ "$status" != NONE ]; then drain_spool; fi
    fi

    deploy_stack "$region" "$backend_stack" "$template_dir/backend.yml" \
        "PcapRetentionDays=$pcap_retention_days" "AlertEmail=$alert_email" \
        "CreateFleetDashboard=$fleet_dashboard" "MonthlyBudgetUsd=$monthly_budget"
    load_outputs "$region" "$backend_stack"
    artifacts=$(output "$backend_stack" ArtifactsBucketName)
    bucket=$(output "$backend_stack" PcapBucketName)
    topic=$(output "$backend_stack" PcapTopicArn)
    alerts=$(output "$backend_stack" AlertTopicArn)

    upload_tarball "$artifacts"

    if [ "$skip_sensor" = 0 ]; then
        local sensor_params=(
            "SensorId=$sensor_id" "PcapBucket=$bucket" "ArtifactsBucket=$artifacts" "BackendRegion=$region"
            "LurkerTarballKey=$tarball_key" "LurkerTarballSha256=$tarball_sha" "FlowTimeout=$flow_timeout"
            "NetworkMode=$network_mode" "ImageId=$image" "InstanceType=$instance_type" "VpcId=$vpc_id"
            "SubnetId=$subnet_id" "AdminCidr=$admin_cidr" "KeyName=$key_name" "RotationSchedule=$rotation_schedule"
            "FlowLogGroup=/honeypot/$output_stack" "KernelDropsThreshold=$kernel_drops_threshold"
            "BacklogAgeSeconds=$backlog_age_seconds" "CreateDashboard=$dashboard")
        deploy_stack "$sensor_region" "$sensor_stack" "$template_dir/sensor.yml" "${sensor_params[@]}"
        deploy_alarms "$alerts"
    fi

    if [ "$skip_output" = 0 ]; then
        if [ "$dry_run" = 1 ]; then
            zip_key="lambda/lurker-analyzer-<sha256 prefix>.zip"
        else
            zip_sha=$(sha256_of "$lambda_zip"); zip_key=lambda/lurker-analyzer-${zip_sha:0:16}.zip
        fi
        arch=$(lambda_architecture "$lambda_zip")
        aws_in "$region" s3 cp --only-show-errors "$lambda_zip" "s3://$artifacts/$zip_key"
        deploy_stack "$region" "$output_stack" "$template_dir/output.yml" \
            "PcapBucket=$bucket" "PcapTopicArn=$topic" "ArtifactsBucket=$artifacts" "LambdaZipKey=$zip_key" \
            "Architecture=$arch" "LogRetentionDays=$log_retention_days" "AlertTopicArn=$alerts"
    fi
    print_summary
}

# ---- commands on the instances (SSM Run Command) ----

# run_on_instance REGION INSTANCE COMMENT TIMEOUT SCRIPT: runs SCRIPT as root through AWS-RunShellScript, waits for
# it, prints the end of its output; fails when it failed.
run_on_instance() {
    local r=$1 instance=$2 comment=$3 timeout=$4 script=$5 params id status deadline
    params=$PARAM_DIR/command-$instance.json
    jq -n --arg s "$script" --arg t "$timeout" '{commands: [$s], executionTimeout: [$t]}' >"$params"
    id=$(query "$r" "<command id>" ssm send-command --instance-ids "$instance" --document-name AWS-RunShellScript \
        --comment "$comment" --timeout-seconds 600 --parameters "file://$params" --query Command.CommandId \
        --output text)
    echo "   $instance ($r): command $id: $comment"
    [ "$dry_run" = 0 ] || return 0
    deadline=$((SECONDS + timeout + 120))
    while :; do
        status=$(aws "${endpoint_args[@]}" --region "$r" ssm get-command-invocation --command-id "$id" \
                     --instance-id "$instance" --query Status --output text 2>/dev/null || echo Pending)
        case $status in
            Pending|InProgress|Delayed) ;;
            *) break ;;
        esac
        [ "$SECONDS" -lt "$deadline" ] || { status=TimedOut; break; }
        sleep 5
    done
    aws "${endpoint_args[@]}" --region "$r" ssm get-command-invocation --command-id "$id" --instance-id "$instance" \
        --query '[StandardOutputContent,StandardErrorContent]' --output text 2>/dev/null | tail -n 20 |
        sed 's/^/     /'
    [ "$status" = Success ] || { echo "deploy.sh: $instance: $comment: $status" >&2; return 1; }
}

# Before the instance is replaced: stop answering and capturing (no new flow), let the shipper empty the spool.
drain_script() {
    cat <<'EOF'
set -eu
/usr/local/sbin/lurker-supervisorctl stop responder capturer
for _ in $(seq 1 170); do
  left=$(find /var/spool/lurker -name '*.pcap' | wc -l)
  [ "$left" -gt 0 ] || { echo "spool empty"; exit 0; }
  echo "$left pcaps left"; sleep 5
done
echo "spool not empty after 850 s" >&2
exit 1
EOF
}

drain_spool() {
    local instance
    load_outputs "$sensor_region" "$sensor_stack"
    instance=$(output "$sensor_stack" InstanceId)
    echo "== draining the spool of $sensor_id ($instance) before its image is replaced"
    run_on_instance "$sensor_region" "$instance" "lurker drain before image replacement" 900 "$(drain_script)" ||
        die "the spool of $sensor_id did not drain, the instance was not replaced (capture is stopped: start it" \
            "again with lurker-supervisorctl start all, or deploy without --replace-image)"
}

# The upgrade each sensor runs: fetch and verify the tarball, then sensor-setup.sh --upgrade from it (build, keep
# the running version, restart, health check, roll back on failure). The spool is never touched.
upgrade_script() { # ARTIFACTS KEY SHA256
    cat <<EOF
set -eu
work=\$(mktemp -d /opt/lurker/upgrade.XXXXXX)
trap 'rm -rf "\$work"' EXIT
aws s3 cp --only-show-errors --region $region 's3://$1/$2' "\$work/lurker.tar.gz"
echo '$3  '"\$work/lurker.tar.gz" | sha256sum --check --strict -
mkdir "\$work/src"
tar -xzf "\$work/lurker.tar.gz" -C "\$work/src" --no-same-owner
"\$work/src/infra/sensor-setup.sh" --upgrade >>/var/log/lurker-upgrade.log 2>&1 ||
  { tail -n 30 /var/log/lurker-upgrade.log; exit 1; }
rm -rf /opt/lurker/src.previous
mv /opt/lurker/src /opt/lurker/src.previous
mv "\$work/src" /opt/lurker/src
echo "lurker upgraded to $2"
EOF
}

# The sensors to upgrade, as "REGION STACK" lines: --sensor-id's, or with --all every one that has an alarm stack
# (one per sensor, all in the backend's region).
fleet_sensors() {
    local stack
    if [ "$all_sensors" = 0 ]; then echo "$sensor_region $sensor_stack"; return 0; fi
    if [ "$dry_run" = 1 ]; then
        query "$region" "" cloudformation describe-stacks --query "Stacks[].StackName" --output text >/dev/null
        echo "<each sensor's region> $name-sensor-<each sensor>"; return 0
    fi
    for stack in $(aws "${endpoint_args[@]}" --region "$region" cloudformation describe-stacks \
                       --query "Stacks[?starts_with(StackName, '$name-alarms-')].StackName" --output text); do
        echo "$(stack_parameter "$region" "$stack" SensorRegion) $(stack_parameter "$region" "$stack" SensorStackName)"
    done
}

do_upgrade() {
    local artifacts script r stack instance failed=0 count=0
    load_outputs "$region" "$backend_stack" || die "$backend_stack is not deployed in $region"
    artifacts=$(output "$backend_stack" ArtifactsBucketName)
    upload_tarball "$artifacts"
    script=$(upgrade_script "$artifacts" "$tarball_key" "$tarball_sha")
    echo "== upgrading to $tarball_key in place (no instance is replaced, the spool is kept)"
    while read -r r stack; do
        [ -n "$stack" ] || continue
        count=$((count + 1))
        if ! load_outputs "$r" "$stack" 2>/dev/null; then
            echo "deploy.sh: $stack ($r): not deployed" >&2; failed=1; continue
        fi
        instance=$(output "$stack" InstanceId)
        run_on_instance "$r" "$instance" "lurker upgrade to ${tarball_key##*/}" 1800 "$script" || failed=1
    done < <(fleet_sensors)
    [ "$count" -gt 0 ] || die "no sensor of $name found to upgrade"
    [ "$failed" = 0 ] || die "some sensors were not upgraded (a sensor whose upgrade failed runs its previous version)"
}

delete_stack() { # REGION STACK (deleting a stack that does not exist is not an error)
    echo "== deleting $2 ($1)"
    aws_in "$1" cloudformation delete-stack --stack-name "$2"
    wait_stack "$1" "$2" delete
}

do_teardown() {
    local bucket artifacts
    if [ "$skip_output" = 0 ]; then
        if load_outputs "$region" "$output_stack" 2>/dev/null && [ "$dry_run" = 0 ]; then
            aws_in "$region" s3 rm --only-show-errors --recursive "s3://$(output "$output_stack" RecordsBucketName)"
        fi
        delete_stack "$region" "$output_stack"
    fi
    if [ "$skip_sensor" = 0 ]; then
        delete_stack "$sensor_region" "$sensor_stack"
        delete_stack "$region" "$alarms_stack"
    fi
    if ! load_outputs "$region" "$backend_stack" 2>/dev/null; then
        echo "== $backend_stack ($region): not deployed"
        return 0
    fi
    # CloudFormation cannot delete a bucket that still holds objects: empty both first.
    bucket=$(output "$backend_stack" PcapBucketName)
    artifacts=$(output "$backend_stack" ArtifactsBucketName)
    aws_in "$region" s3 rm --only-show-errors --recursive "s3://$bucket"
    aws_in "$region" s3 rm --only-show-errors --recursive "s3://$artifacts"
    delete_stack "$region" "$backend_stack"
}

case $command in
    deploy) do_deploy ;;
    upgrade) do_upgrade ;;
    teardown) do_teardown ;;
    status) print_summary ;;
esac
