/* lurker-analyzer: pcaps in, one JSON record per flow out. A CLI over files, directories, stdin and s3:// URLs,
 * and an AWS Lambda (custom runtime) when AWS_LAMBDA_RUNTIME_API is set. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"
#include "inputs.h"
#include "lambda.h"
#include "run.h"
#include "s3_input.h"
#include "summary.h"

/* CloudWatch Logs takes events up to 256 KiB: in Lambda mode each direction is written up to this many bytes. */
#define LAMBDA_RECORD_PAYLOAD (32u * 1024)

#define ANALYZER_MAX_LOCAL 64

struct cli {
    struct run run;
    struct s3_input s3;
    size_t max_file;
    int first_input;
    struct follow_options follow; /* follow.dir set: --follow mode */
    const char *report_path;      /* --report */
    struct prefix local[ANALYZER_MAX_LOCAL]; /* --local, LURKER_LOCAL */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lurker-analyzer [options] INPUT...\n"
            "       lurker-analyzer --report OUT.html [options] INPUT...\n"
            "       lurker-analyzer --follow DIR [--log FILE] [--follow-existing] [options]\n"
            "  INPUT: a pcap file, a directory (searched recursively for *.pcap, *.pcapng, *.cap), - for stdin,\n"
            "         s3://BUCKET/KEY, or s3://BUCKET/PREFIX/ for every object under the prefix\n"
            "Prints one JSON record per flow on stdout (schema: analyzer/SCHEMA.md).\n"
            "  --summary              print tables (recent flows with payload; flows by port, source, service)\n"
            "  --sensor NAME          sensor name for the records (default: from the path or S3 key)\n"
            "  --local PREFIX         the sensor's monitored address or prefix (repeatable): records are oriented\n"
            "                         from the other side and say who started the flow (started_by)\n"
            "  --max-payload BYTES    bytes kept per direction and flow (default %u)\n"
            "  --max-record-payload BYTES  bytes of each direction written into a record (default: all kept)\n"
            "  --max-file BYTES       largest pcap read (default %llu)\n"
            "  --s3-endpoint URL      S3-compatible endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS)\n"
            "  --region REGION        S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)\n"
            "  --report OUT.html      write one self-contained HTML page over all inputs instead of records; an input\n"
            "                         file whose first byte is '{' is read as JSON lines of records\n"
            "  --follow DIR           watch DIR recursively (inotify) and analyse every new complete pcap once\n"
            "                         (*.pcap, *.pcapng, *.cap; *.tmp ignored), appending its records; runs until\n"
            "                         SIGTERM/SIGINT. Only pcaps that appear after the start, unless:\n"
            "  --follow-existing      first analyse the pcaps already under DIR\n"
            "  --log FILE             with --follow: append records to FILE (default stdout; SIGHUP reopens it)\n"
            "With AWS_LAMBDA_RUNTIME_API set it runs as an AWS Lambda function instead (sensor from LURKER_SENSOR,\n"
            "the sensors' prefixes from LURKER_LOCAL, comma-separated; records also to\n"
            "s3://LURKER_RECORDS_BUCKET/LURKER_RECORDS_PREFIX as JSON Lines when the bucket is set).\n",
            ANALYZER_DEFAULT_MAX_PAYLOAD, (unsigned long long)INPUT_DEFAULT_MAX_BYTES);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* One more monitored prefix; false when it does not parse or there are too many. */
static bool add_local(struct cli *cli, const char *text)
{
    const char *why;
    if (cli->run.analyze.nlocal == ANALYZER_MAX_LOCAL ||
        prefix_parse(text, &cli->local[cli->run.analyze.nlocal], &why) != 0)
        return false;
    cli->run.analyze.local = cli->local;
    cli->run.analyze.nlocal++;
    return true;
}

static void parse_options(int argc, char **argv, struct cli *cli)
{
    enum { OPT_SUMMARY = 256, OPT_SENSOR, OPT_MAX_PAYLOAD, OPT_MAX_RECORD, OPT_MAX_FILE, OPT_ENDPOINT, OPT_REGION,
           OPT_REPORT, OPT_FOLLOW, OPT_FOLLOW_EXISTING, OPT_LOG, OPT_LOCAL };
    static const struct option options[] = {
        { "summary", no_argument, NULL, OPT_SUMMARY },
        { "sensor", required_argument, NULL, OPT_SENSOR },
        { "local", required_argument, NULL, OPT_LOCAL },
        { "max-payload", required_argument, NULL, OPT_MAX_PAYLOAD },
        { "max-record-payload", required_argument, NULL, OPT_MAX_RECORD },
        { "max-file", required_argument, NULL, OPT_MAX_FILE },
        { "s3-endpoint", required_argument, NULL, OPT_ENDPOINT },
        { "region", required_argument, NULL, OPT_REGION },
        { "report", required_argument, NULL, OPT_REPORT },
        { "follow", required_argument, NULL, OPT_FOLLOW },
        { "follow-existing", no_argument, NULL, OPT_FOLLOW_EXISTING },
        { "log", required_argument, NULL, OPT_LOG },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_SUMMARY:
            cli->run.summary = summary_new();
            if (!cli->run.summary) {
                fprintf(stderr, "lurker-analyzer: out of memory\n");
                exit(1);
            }
            break;
        case OPT_SENSOR:
            cli->run.sensor = optarg;
            break;
        case OPT_LOCAL:
            if (!add_local(cli, optarg)) {
                fprintf(stderr, "lurker-analyzer: --local %s: not an address or prefix (or more than %d)\n", optarg,
                        ANALYZER_MAX_LOCAL);
                exit(2);
            }
            break;
        case OPT_MAX_PAYLOAD:
            if (parse_size(optarg, &cli->run.analyze.max_payload) != 0)
                goto bad;
            break;
        case OPT_MAX_RECORD:
            if (parse_size(optarg, &cli->run.analyze.max_record_payload) != 0)
                goto bad;
            break;
        case OPT_MAX_FILE:
            if (parse_size(optarg, &cli->max_file) != 0)
                goto bad;
            break;
        case OPT_ENDPOINT:
            snprintf(cli->s3.endpoint, sizeof cli->s3.endpoint, "%s", optarg);
            break;
        case OPT_REGION:
            snprintf(cli->s3.region, sizeof cli->s3.region, "%s", optarg);
            break;
        case OPT_REPORT:
            cli->report_path = optarg;
            break;
        case OPT_FOLLOW:
            cli->follow.dir = optarg;
            break;
        case OPT_FOLLOW_EXISTING:
            cli->follow.existing = true;
            break;
        case OPT_LOG:
            cli->follow.log_path = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (cli->follow.dir) {
        if (optind < argc || cli->report_path || cli->run.summary) {
            fprintf(stderr, "lurker-analyzer: --follow takes no INPUT, --report or --summary\n");
            exit(2);
        }
        return;
    }
    if (cli->follow.log_path || cli->follow.existing) {
        fprintf(stderr, "lurker-analyzer: --log and --follow-existing go with --follow\n");
        exit(2);
    }
    if (cli->report_path && cli->run.summary) {
        fprintf(stderr, "lurker-analyzer: --report and --summary are separate outputs: choose one\n");
        exit(2);
    }
    if (optind >= argc) {
        usage(stderr);
        exit(2);
    }
    cli->first_input = optind;
    return;
bad:
    fprintf(stderr, "lurker-analyzer: %s: not a positive number of bytes\n", optarg);
    exit(2);
}

static int local_pcap(const char *name, const uint8_t *data, size_t len, void *arg)
{
    return analysis_run_pcap(arg, name, -1, data, len);
}

/* --report: a file (or stdin) whose first byte is '{' holds JSON lines of records, not a pcap. Returns 1 when the
 * input was handled here (failed: set), 0 when it is for input_local(). */
static int report_json_input(struct cli *cli, const char *path, int *failed)
{
    struct stat st;
    bool is_stdin = strcmp(path, "-") == 0;
    if (!is_stdin && (stat(path, &st) != 0 || !S_ISREG(st.st_mode)))
        return 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char first = 0;
    if (!is_stdin && (pread(fd, &first, 1, 0) != 1 || first != '{')) {
        close(fd);
        return 0;
    }
    uint8_t *data;
    size_t len;
    char err[160];
    int rc = input_read_stream(fd, cli->max_file, &data, &len, err, sizeof err);
    if (!is_stdin)
        close(fd);
    if (rc != 0) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", path, err);
        *failed += 1;
        return 1;
    }
    if (len > 0 && data[0] == '{')
        *failed += report_add_json_lines(cli->run.report, path, data, len) > 0;
    else /* stdin: a pcap after all */
        *failed += local_pcap(is_stdin ? NULL : path, data, len, &cli->run);
    free(data);
    return 1;
}

static int run_inputs(struct cli *cli, int argc, char **argv)
{
    int failed = 0;
    for (int i = cli->first_input; i < argc; i++) {
        if (strncmp(argv[i], "s3://", 5) == 0)
            failed += s3_input_run(&cli->s3, argv[i], &cli->run);
        else if (!cli->run.report || !report_json_input(cli, argv[i], &failed))
            failed += input_local(argv[i], cli->max_file, local_pcap, &cli->run);
    }
    return failed;
}

static int write_report(struct cli *cli, int inputs)
{
    FILE *out = fopen(cli->report_path, "w");
    if (!out) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", cli->report_path, strerror(errno));
        return -1;
    }
    int rc = report_write(cli->run.report, out, (size_t)inputs);
    if (fclose(out) != 0 || rc != 0) {
        fprintf(stderr, "lurker-analyzer: %s: write failed\n", cli->report_path);
        return -1;
    }
    fprintf(stderr, "lurker-analyzer: wrote %s (%llu flows)\n", cli->report_path,
            (unsigned long long)report_flows(cli->run.report));
    return 0;
}

static int run_lambda(struct cli *cli, const char *runtime_api)
{
    const char *sensor = getenv("LURKER_SENSOR");
    cli->run.sensor = sensor && *sensor ? sensor : NULL;
    const char *local = getenv("LURKER_LOCAL");
    for (const char *p = local ? local : ""; *p;) {
        char one[64];
        size_t n = strcspn(p, ",");
        if (n > 0 && n < sizeof one) {
            memcpy(one, p, n);
            one[n] = '\0';
            if (!add_local(cli, one))
                fprintf(stderr, "lurker-analyzer: LURKER_LOCAL: '%s' ignored (not an address or prefix)\n", one);
        }
        p += n + (p[n] == ',');
    }
    cli->run.analyze.max_record_payload = LAMBDA_RECORD_PAYLOAD;
    const char *limit = getenv("LURKER_MAX_RECORD_PAYLOAD");
    if (limit && parse_size(limit, &cli->run.analyze.max_record_payload) != 0)
        cli->run.analyze.max_record_payload = LAMBDA_RECORD_PAYLOAD;
    cli->run.progress = false;
    return lambda_main(runtime_api, &cli->run, &cli->s3);
}

int main(int argc, char **argv)
{
    struct cli cli = { .max_file = INPUT_DEFAULT_MAX_BYTES };
    /* records leave run.c in chunks of 256 KiB and at the end of each pcap: a stdio buffer would only copy them */
    setvbuf(stdout, NULL, _IONBF, 0);
    analysis_run_init(&cli.run, stdout);
    s3_input_init(&cli.s3, cli.max_file);
    const char *runtime_api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (runtime_api && *runtime_api) {
        int rc = run_lambda(&cli, runtime_api);
        analysis_run_finish(&cli.run);
        return rc;
    }
    parse_options(argc, argv, &cli);
    cli.s3.max_bytes = cli.max_file;
    if (cli.follow.dir) {
        cli.follow.max_file = cli.max_file;
        int rc = follow_main(&cli.follow, &cli.run);
        analysis_run_finish(&cli.run);
        s3_input_free(&cli.s3);
        return rc;
    }
    if (cli.report_path && !(cli.run.report = report_new())) {
        fprintf(stderr, "lurker-analyzer: out of memory\n");
        return 1;
    }
    int failed = run_inputs(&cli, argc, argv);
    analysis_run_finish(&cli.run);
    s3_input_free(&cli.s3);
    if (cli.run.summary) {
        summary_print(cli.run.summary, stdout);
        summary_free(cli.run.summary);
    }
    if (cli.run.report) {
        if (write_report(&cli, argc - cli.first_input) != 0)
            failed++;
        report_free(cli.run.report);
    }
    return failed ? 1 : 0;
}
