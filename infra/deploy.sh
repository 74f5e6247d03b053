#!/usr/bin/env bash
# deploy.sh — put a lurker sensor on the internet, or take everything down again.
#
#   infra/deploy.sh [OPTIONS] [deploy]     build + upload artifacts, then deploy backend -> sensor -> output
#   infra/deploy.sh [OPTIONS] teardown     delete output and sensor stacks, empty both buckets, delete the backend
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
lambda_zip=""
tarball=""
template_dir=$ROOT/infra
endpoint_url=""
dry_run=0
skip_sensor=0
skip_output=0
command=deploy

usage() {
    cat <<EOF
usage: infra/deploy.sh [OPTIONS] [deploy|teardown|status]

Stacks: NAME-backend and NAME-output in --region, NAME-sensor-SENSOR_ID in --sensor-region.

  --name NAME               stack name prefix, lowercase (default: $name)
  --sensor-id ID            sensor name, also its S3 prefix sensors/ID/ (default: $sensor_id)
  --region REGION           region of the backend and output stacks (default: \$AWS_REGION, else us-east-1)
  --sensor-region REGION    region of the sensor stack (default: --region)
  --network-mode MODE       single (one interface, one public IPv4) or dual (management + monitored,
                            two Elastic IPs) (default: $network_mode)
  --instance-type TYPE      (default: $instance_type; t3/t3a types need --image-param ...-amd64)
  --image-param PATH        public SSM parameter naming the AMI
                            (default: the template's, /aws/service/debian/release/12/latest/arm64)
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
  --lambda-zip FILE         use this analyzer package instead of running \`make lambda\`
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
        --tarball) need_value "$@"; tarball=$2; shift 2 ;;
        --template-dir) need_value "$@"; template_dir=$2; shift 2 ;;
        --endpoint-url) need_value "$@"; endpoint_url=$2; shift 2 ;;
        --no-dashboard) dashboard=false; shift ;;
        --no-sensor) skip_sensor=1; shift ;;
        --no-output) skip_output=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        deploy|teardown|status) command=$1; shift ;;
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
if [ -n "$rotation_schedule" ] && [ "$network_mode" != dual ]; then
    die "--rotation-schedule needs --network-mode dual"
fi
sensor_stack_suffix=$(printf '%s' "$sensor_id" | tr -c 'A-Za-z0-9-' '-')

backend_stack=$name-backend
sensor_stack=$name-sensor-$sensor_stack_suffix
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

# deploy_stack REGION STACK TEMPLATE KEY=VALUE...: create the stack, or update it when it exists, and wait.
# (create/update-stack rather than `cloudformation deploy`: the same calls work against test servers that
# implement change sets only partly.)
deploy_stack() {
    local r=$1 stack=$2 template=$3 kv params=() err
    shift 3
    for kv in "$@"; do params+=("ParameterKey=${kv%%=*},ParameterValue=${kv#*=}"); done
    echo "== $stack ($r) from $(basename "$template")"
    if [ "$dry_run" = 1 ]; then
        aws_in "$r" cloudformation create-stack --stack-name "$stack" --template-body "file://$template" \
            --capabilities CAPABILITY_IAM --parameters "${params[@]}"
        aws_in "$r" cloudformation wait stack-create-complete --stack-name "$stack"
        return 0
    fi
    if err=$(aws "${endpoint_args[@]}" --region "$r" cloudformation create-stack --stack-name "$stack" \
                 --template-body "file://$template" --capabilities CAPABILITY_IAM --parameters "${params[@]}" \
                 2>&1 >/dev/null); then
        aws_in "$r" cloudformation wait stack-create-complete --stack-name "$stack"
        return 0
    fi
    grep -q AlreadyExists <<<"$err" || { echo "$err" >&2; die "creating $stack failed"; }
    if ! err=$(aws "${endpoint_args[@]}" --region "$r" cloudformation update-stack --stack-name "$stack" \
                   --template-body "file://$template" --capabilities CAPABILITY_IAM --parameters "${params[@]}" \
                   2>&1 >/dev/null); then
        if grep -q 'No updates are to be performed' <<<"$err"; then echo "   (unchanged)"; return 0; fi
        echo "$err" >&2; die "updating $stack failed"
    fi
    aws_in "$r" cloudformation wait stack-update-complete --stack-name "$stack"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The source tree as a reproducible tarball (same content, same checksum): what the sensor builds from.
build_tarball() {
    local out=$ROOT/build/deploy/lurker-src.tar.gz
    local tar_cmd=(tar -C "$ROOT" -cf - --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --exclude-vcs
                   --exclude=./build --exclude=./build-san --exclude=./build-fuzz --exclude=./bin --exclude=./bin-san
                   --exclude=./bin-fuzz --exclude='*.o' --exclude='*.d' .)
    if [ "$dry_run" = 1 ]; then
        show "${tar_cmd[@]}"; echo "  | gzip -n > $out" >&2
        echo "$out"; return 0
    fi
    mkdir -p "$(dirname "$out")"
    "${tar_cmd[@]}" | gzip -n >"$out"
    echo "$out"
}

build_lambda() {
    if [ "$dry_run" = 1 ]; then
        show make -C "$ROOT" lambda; echo "$ROOT/build/lambda/lurker-analyzer-lambda.zip"; return 0
    fi
    make -C "$ROOT" lambda >&2
    echo "$ROOT/build/lambda/lurker-analyzer-lambda.zip"
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

default_network() {
    if [ -z "$vpc_id" ]; then
        vpc_id=$(query "$sensor_region" "<default VPC>" ec2 describe-vpcs --filters Name=isDefault,Values=true \
            --query 'Vpcs[0].VpcId' --output text)
        if [ -z "$vpc_id" ] || [ "$vpc_id" = None ]; then
            die "no default VPC in $sensor_region: give --vpc-id and --subnet-id"
        fi
    fi
    if [ -z "$subnet_id" ]; then
        subnet_id=$(query "$sensor_region" "<first subnet of $vpc_id>" ec2 describe-subnets \
            --filters "Name=vpc-id,Values=$vpc_id" --query 'sort_by(Subnets,&AvailabilityZone)[0].SubnetId' \
            --output text)
        if [ -z "$subnet_id" ] || [ "$subnet_id" = None ]; then die "no subnet in $vpc_id: give --subnet-id"; fi
    fi
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
    if [ "$skip_sensor" = 0 ]; then
        load_outputs "$sensor_region" "$sensor_stack"
        address=$(output "$sensor_stack" SensorAddress)
        instance=$(output "$sensor_stack" InstanceId)
        echo "sensor:         $sensor_id at $address ($instance, $sensor_region)"
        echo "shell:          aws ssm start-session --region $sensor_region --target $instance"
        # (optional outputs: a stack deployed with --no-dashboard, or outside the backend's region, lacks them)
        if [ -n "${OUTPUTS["$sensor_stack/DashboardUrl"]+set}" ] || [ "$dry_run" = 1 ]; then
            echo "dashboard:      $(output "$sensor_stack" DashboardUrl)"
        fi
        if [ "$sensor_region" = "$region" ]; then
            echo "alarms:         $(output "$sensor_stack" Alarms)"
        else
            echo "alarms:         none for $sensor_id: its metrics go to $region, its stack is in $sensor_region"
        fi
    fi
    if [ "$skip_output" = 0 ]; then
        load_outputs "$region" "$output_stack"
        log_group=$(output "$output_stack" LogGroupName)
        query_text=$(output "$output_stack" InsightsQuery)
        console=$(output "$output_stack" InsightsConsole)
        echo "log group:      $log_group"
        echo "insights query: $query_text"
        echo "insights:       $console"
    fi
}

do_deploy() {
    local tarball_sha tarball_key zip_sha zip_key artifacts bucket topic alerts arch
    [ -n "$tarball" ] || tarball=$(build_tarball)
    [ "$skip_output" = 1 ] || [ -n "$lambda_zip" ] || lambda_zip=$(build_lambda)
    if [ "$skip_output" = 0 ] && [ "$dry_run" = 0 ]; then
        "$ROOT/infra/check-lambda-package.sh" "$lambda_zip"
    fi

    deploy_stack "$region" "$backend_stack" "$template_dir/backend.yml" \
        "PcapRetentionDays=$pcap_retention_days" "AlertEmail=$alert_email"
    load_outputs "$region" "$backend_stack"
    artifacts=$(output "$backend_stack" ArtifactsBucketName)
    bucket=$(output "$backend_stack" PcapBucketName)
    topic=$(output "$backend_stack" PcapTopicArn)
    alerts=$(output "$backend_stack" AlertTopicArn)

    if [ "$dry_run" = 1 ]; then
        tarball_sha="<sha256 of $(basename "$tarball")>"; tarball_key="lurker/lurker-src-<sha256 prefix>.tar.gz"
    else
        tarball_sha=$(sha256_of "$tarball"); tarball_key=lurker/lurker-src-${tarball_sha:0:16}.tar.gz
    fi
    aws_in "$region" s3 cp --only-show-errors "$tarball" "s3://$artifacts/$tarball_key"

    if [ "$skip_sensor" = 0 ]; then
        default_network
        local sensor_params=(
            "SensorId=$sensor_id" "PcapBucket=$bucket" "ArtifactsBucket=$artifacts" "BackendRegion=$region"
            "LurkerTarballKey=$tarball_key" "LurkerTarballSha256=$tarball_sha" "FlowTimeout=$flow_timeout"
            "NetworkMode=$network_mode" "InstanceType=$instance_type" "VpcId=$vpc_id" "SubnetId=$subnet_id"
            "AdminCidr=$admin_cidr" "KeyName=$key_name" "RotationSchedule=$rotation_schedule"
            "AlertTopicArn=$alerts" "FlowLogGroup=/honeypot/$output_stack" "NoTrafficMinutes=$no_traffic_minutes"
            "NoUploadMinutes=$no_upload_minutes" "KernelDropsThreshold=$kernel_drops_threshold"
            "BacklogAgeSeconds=$backlog_age_seconds" "CreateDashboard=$dashboard")
        [ -z "$image_param" ] || sensor_params+=("ImageId=$image_param")
        if [ "$sensor_region" != "$region" ]; then
            # The shipper publishes to its bucket's region; an alarm watches only its own region's metrics.
            echo "deploy.sh: warning: $sensor_id's metrics go to CloudWatch in $region but its stack is in" \
                 "$sensor_region: the stack gets its dashboard but no alarms (infra/README.md, Health and alarms)" >&2
        fi
        deploy_stack "$sensor_region" "$sensor_stack" "$template_dir/sensor.yml" "${sensor_params[@]}"
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

delete_stack() { # REGION STACK (deleting a stack that does not exist is not an error)
    echo "== deleting $2 ($1)"
    aws_in "$1" cloudformation delete-stack --stack-name "$2"
    aws_in "$1" cloudformation wait stack-delete-complete --stack-name "$2"
}

do_teardown() {
    local bucket artifacts
    [ "$skip_output" = 1 ] || delete_stack "$region" "$output_stack"
    [ "$skip_sensor" = 1 ] || delete_stack "$sensor_region" "$sensor_stack"
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
    teardown) do_teardown ;;
    status) print_summary ;;
esac
