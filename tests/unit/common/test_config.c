/* lurker.yaml: defaults, a full round trip, and one exact message per kind of mistake. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

#define BASE "interface: eth0\naddresses: [203.0.113.10]\n"

static int load(const char *text, struct lurker_config *cfg, char *err)
{
    return config_load_buffer("lurker.yaml", text, strlen(text), cfg, err, CONFIG_ERR_MAX);
}

struct bad_case {
    const char *text;
    const char *message;
};

static struct bad_case bad_cases[] = {
    {BASE "flow_timeout: 30\n", "lurker.yaml:3:1: unknown key 'flow_timeout' in the top level"},
    {BASE "capturer:\n  flow_timout: 30s\n",
     "lurker.yaml:4:3: unknown key 'flow_timout' in capturer (did you mean 'flow_timeout'?)"},
    {BASE "capturer:\n  flow_timeout: soon\n",
     "lurker.yaml:4:17: 'flow_timeout' must be a duration such as 60s, 10m or 1h, not 'soon'"},
    {BASE "capturer:\n  flow_timeout: 0s\n", "lurker.yaml:4:17: 'flow_timeout' is 0s; it must be between 1s and 3600s"},
    {BASE "capturer:\n  flow_timeout: 2h\n", "lurker.yaml:4:17: 'flow_timeout' is 2h; it must be between 1s and 3600s"},
    {BASE "capturer:\n  buffer_size: 64MB\n",
     "lurker.yaml:4:16: 'buffer_size' must be a size such as 64MiB (units B, KiB, MiB, GiB, TiB), not '64MB'"},
    {BASE "capturer:\n  snaplen: 10\n", "lurker.yaml:4:12: 'snaplen' is 10; it must be between 64 and 262144"},
    {BASE "capturer:\n  journal_max: 10KiB\n",
     "lurker.yaml:4:16: 'journal_max' is 10KiB; it must be between 1048576 and 1099511627776"},
    {BASE "capturer:\n  journal: yes please\n", "lurker.yaml:4:12: 'journal' must be true or false"},
    {BASE "responder:\n  ack_data: sometimes\n", "lurker.yaml:4:13: 'ack_data' must be true or false"},
    {BASE "capturer:\n  max_flows: -5\n", "lurker.yaml:4:14: 'max_flows' must be a whole number, not '-5'"},
    {BASE "capturer:\n  flow_timeout: 120s\n  max_flow_age: 60s\n",
     "lurker.yaml:5:17: 'max_flow_age' (60s) is shorter than 'flow_timeout' (120s)"},
    {"addresses: [203.0.113.10]\n", "lurker.yaml:1:1: missing required key 'interface'"},
    {"interface: eth0\n", "lurker.yaml:1:1: missing required key 'addresses'"},
    {"interface: eth0\naddresses: [203.0.113.300]\n",
     "lurker.yaml:2:13: addresses: '203.0.113.300': not an IP address or prefix"},
    {"interface: eth0\naddresses: [203.0.113.10/33]\n",
     "lurker.yaml:2:13: addresses: '203.0.113.10/33': IPv4 prefix length over 32"},
    {"interface: eth0\naddresses: [203.0.113.10/24]\n",
     "lurker.yaml:2:13: addresses: '203.0.113.10/24': prefix has host bits set past its length"},
    {"interface: eth0\naddresses: 203.0.113.10\n",
     "lurker.yaml:2:12: 'addresses' must be a list of IP addresses or prefixes"},
    {"interface: eth0\naddresses: []\n", "lurker.yaml:2:12: 'addresses' must list at least one address"},
    {"interface: eth0\naddresses: [2001:db8::1, 2001:db8::1]\n",
     "lurker.yaml:2:26: addresses: '2001:db8::1' is listed twice"},
    {BASE "responder:\n  persona: solaris\n",
     "lurker.yaml:4:12: 'persona' is 'solaris'; it must be one of: linux, windows, freebsd"},
    {BASE "responder:\n  ports: [22, 70000]\n", "lurker.yaml:4:15: ports: port 70000 is out of range 0-65535"},
    {BASE "responder:\n  ports: [\"9000-8000\"]\n", "lurker.yaml:4:11: ports: range '9000-8000' ends before it starts"},
    {BASE "responder:\n  ports: some\n", "lurker.yaml:4:10: 'ports' must be \"all\" or a list of ports and ranges"},
    {BASE "responder:\n  ports: [22]\n  exclude_ports: [22]\n",
     "lurker.yaml:1:1: 'exclude_ports' removes every port in 'ports': nothing would be answered"},
    {BASE "responder:\n  banners:\n    - port: 2222\n",
     "lurker.yaml:5:7: banners: entry needs both 'port' and 'text'"},
    {BASE "responder:\n  banners:\n    - port: 21\n      text: 'a\\qb'\n",
     "lurker.yaml:6:13: banner text has an unknown escape '\\q' (use \\r \\n \\t \\\\ \\xNN)"},
    {BASE "responder: fast\n", "lurker.yaml:3:12: 'responder' must be a mapping of settings, not a scalar"},
    {BASE "shipper:\n  storage: s3\n", "lurker.yaml:1:1: storage is s3 but 'shipper.s3.bucket' is empty"},
    {BASE "shipper:\n  storage: ftp\n", "lurker.yaml:4:12: 'storage' is 'ftp'; it must be one of: local, s3"},
    {BASE "shipper:\n  metrics: statsd\n", "lurker.yaml:4:12: 'metrics' is 'statsd'; it must be one of: none, cloudwatch"},
    {BASE "shipper:\n  metrics_interval: 5s\n",
     "lurker.yaml:4:21: 'metrics_interval' is 5s; it must be between 10s and 3600s"},
    {BASE "shipper:\n  s3:\n    path_style: maybe\n", "lurker.yaml:5:17: 'path_style' must be true or false"},
    {BASE "shipper:\n  s3:\n    endpoint: 127.0.0.1:5000\n",
     "lurker.yaml:5:15: 'endpoint' must start with http:// or https://"},
    {BASE "shipper:\n  key_template: \"pcap/{date}/{ts}.pcap\"\n",
     "lurker.yaml:4:17: 'key_template' has an unknown field (known: {sensor} {yyyy} {mm} {dd} {hh} {ts} {us} {src} "
     "{dst} {sport} {dport} {proto} {seq})"},
#define SHARED_KEY "must contain {ts} {us} {proto} {src} {dst} {sport} {dport}: without one of them two flows could " \
                   "share a key, and the store would keep only the last"
    /* the old default: a TCP and a UDP flow, or two flows of one second, on the same addresses and ports */
    {BASE "shipper:\n  key_template: \"pcap/{yyyy}/{mm}/{dd}/{hh}/{ts}_{src}_{dst}_{sport}_{dport}.pcap\"\n",
     "lurker.yaml:4:17: 'key_template' " SHARED_KEY},
    {BASE "shipper:\n  key_template: \"{ts}.{us}_{src}_{dst}_{sport}_{dport}.pcap\"\n",
     "lurker.yaml:4:17: 'key_template' " SHARED_KEY},
    {BASE "shipper:\n  key_template: \"{ts}.{us}_{proto}_{src}_{dst}_{dport}.pcap\"\n",
     "lurker.yaml:4:17: 'key_template' " SHARED_KEY},
    {BASE "shipper:\n  key_template: \"pcap/a b.pcap\"\n",
     "lurker.yaml:4:17: 'key_template' may contain only [A-Za-z0-9-._/] and {fields}"},
    {BASE "shipper:\n  key_template: \"../escape/{ts}\"\n", "lurker.yaml:4:17: 'key_template' must not contain '..'"},
    {BASE "sensor_id: \"sensor 1\"\n",
     "lurker.yaml:3:12: 'sensor_id' may contain only letters, digits, '-', '_' and '.'"},
    {BASE "shm_name: lurker\n", "lurker.yaml:3:11: 'shm_name' must be '/' followed by a name without '/'"},
    {BASE "queue_slots: 1000\n", "lurker.yaml:1:1: 'queue_slots' (1000) must be a power of two"},
    {BASE "log_level: loud\n", "lurker.yaml:3:12: 'log_level' is 'loud'; it must be one of: debug, info, warn, error"},
    {BASE "interface: eth1\n", "lurker.yaml:3:1: key 'interface' appears twice (first at line 1)"},
    {BASE "capturer:\n  max_flows:\n", "lurker.yaml:4:3: 'max_flows' has no value"},
    {BASE "capturer:\n  snaplen: [1, 2]\n", "lurker.yaml:4:12: 'snaplen' must be a single value, not a list"},
    {"interface: eth0\n  addresses: [1\n", "lurker.yaml:2:12: not valid YAML: mapping values are not allowed in this context"},
    {"- a\n- b\n", "lurker.yaml:1:1: the top level must be a mapping of settings, not a list"},
    {BASE "---\ninterface: eth1\n", "lurker.yaml:4:1: a second YAML document; lurker.yaml holds exactly one"},
    {"", "lurker.yaml:1:1: the file is empty; 'interface' and 'addresses' are required"},
    {BASE "user: root\n",
     "lurker.yaml:3:7: 'user' is 'root', which is uid 0: the processes would keep every privilege; name an "
     "unprivileged account such as lurker"},
    {BASE "user: \"\"\n",
     "lurker.yaml:3:7: 'user' is empty: every process would keep the identity it started with (root under "
     "supervisord); name an unprivileged account, or set keep_identity: true (development only)"},
    {BASE "user:\n", "lurker.yaml:3:6: 'user' is empty: every process would keep the identity it started with (root "
     "under supervisord); name an unprivileged account, or set keep_identity: true (development only)"},
    {BASE "keep_identity: true\nuser: root\n",
     "lurker.yaml:4:7: 'user' is 'root', which is uid 0: the processes would keep every privilege; name an "
     "unprivileged account such as lurker"},
};

Test(config, bad_files_each_get_their_exact_message)
{
    static struct lurker_config cfg;
    size_t n = sizeof bad_cases / sizeof bad_cases[0];
    cr_assert_geq(n, 20);
    for (size_t i = 0; i < n; i++) {
        char err[CONFIG_ERR_MAX] = "";
        cr_expect_eq(load(bad_cases[i].text, &cfg, err), -1, "case %zu accepted:\n%s", i, bad_cases[i].text);
        cr_expect_str_eq(err, bad_cases[i].message, "case %zu:\n%s", i, bad_cases[i].text);
    }
}

Test(config, defaults_match_the_shipped_file)
{
    /* The shipped lurker.yaml documents each default; loading it must give exactly the built-in defaults
     * (apart from the required keys it fills in). */
    static struct lurker_config shipped, defaults;
    char err[CONFIG_ERR_MAX];
    const char *root = getenv("LURKER_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/lurker.yaml", root ? root : ".");
    cr_assert_eq(config_load(path, &shipped, err, sizeof err), 0, "%s", err);
    config_defaults(&defaults);
    cr_assert_str_eq(shipped.interface, "eth0");
    cr_assert(defaults.responder.ack_data);
    cr_assert_eq(shipped.naddresses, 1);
    memset(shipped.interface, 0, sizeof shipped.interface);
    memset(shipped.source, 0, sizeof shipped.source);
    shipped.naddresses = 0;
    memset(shipped.addresses, 0, sizeof shipped.addresses);
    cr_assert(memcmp(&shipped, &defaults, sizeof defaults) == 0, "shipped lurker.yaml and config_defaults() differ");
}

Test(config, full_file_round_trip)
{
    static struct lurker_config cfg;
    char err[CONFIG_ERR_MAX];
    const char *text = "sensor_id: fra-01\n"
                       "log_level: debug\n"
                       "interface: ens5\n"
                       "addresses: [203.0.113.10, 2001:db8::/64]\n"
                       "user: nobody\n"
                       "shm_name: /lurker-b\n"
                       "queue_slots: 1024\n"
                       "responder:\n"
                       "  ports: [1-1024, \"8000-8100\", 9200]\n"
                       "  exclude_ports: [22]\n"
                       "  persona: freebsd\n"
                       "  rate_limit: 5000\n"
                       "  burst: 100\n"
                       "  source_rate_limit: 50\n"
                       "  source_burst: 60\n"
                       "  source_buckets: 4096\n"
                       "  firewall: ingress\n"
                       "  ack_data: false\n"
                       "  banners:\n"
                       "    - port: 2222\n"
                       "      text: \"SSH-2.0-OpenSSH_9.2p1\\r\\n\"\n"
                       "    - port: 21\n"
                       "      text: '220 ftp\\r\\n'\n"
                       "capturer:\n"
                       "  snaplen: 1500\n"
                       "  buffer_size: 8MiB\n"
                       "  flow_timeout: 2m\n"
                       "  max_flow_age: 1h\n"
                       "  max_flows: 500\n"
                       "  max_flow_packets: 99\n"
                       "  max_flow_bytes: 64KiB\n"
                       "  memory_limit: 2GiB\n"
                       "  journal: false\n"
                       "  journal_max: 3GiB\n"
                       "spool:\n"
                       "  directory: /srv/spool\n"
                       "  quota: 10GiB\n"
                       "shipper:\n"
                       "  storage: s3\n"
                       "  archive_dir: /srv/archive\n"
                       "  key_template: \"{sensor}/{yyyy}/{ts}.{us}_{proto}_{src}_{sport}_{dst}_{dport}.pcap\"\n"
                       "  concurrency: 16\n"
                       "  max_retries: 3\n"
                       "  failed_retry_interval: 1h\n"
                       "  metrics: cloudwatch\n"
                       "  metrics_interval: 30s\n"
                       "  metrics_namespace: Honeypot\n"
                       "  metrics_endpoint: http://127.0.0.1:5001\n"
                       "  prometheus_file: /var/lib/node_exporter/lurker.prom\n"
                       "  s3:\n"
                       "    bucket: my-pcaps\n"
                       "    region: eu-central-1\n"
                       "    prefix: sensors/\n"
                       "    endpoint: http://127.0.0.1:5000\n"
                       "    path_style: true\n"
                       "    sse: aws:kms\n"
                       "    profile: honeypot\n";
    cr_assert_eq(load(text, &cfg, err), 0, "%s", err);
    cr_assert_str_eq(cfg.sensor_id, "fra-01");
    cr_assert_eq(cfg.log_level, LOG_LEVEL_DEBUG);
    cr_assert_str_eq(cfg.interface, "ens5");
    cr_assert_eq(cfg.naddresses, 2);
    cr_assert_eq(cfg.addresses[0].addr.family, AF_INET);
    cr_assert_eq(cfg.addresses[0].len, 32);
    cr_assert_eq(cfg.addresses[1].addr.family, AF_INET6);
    cr_assert_eq(cfg.addresses[1].len, 64);
    cr_assert_str_eq(cfg.user, "nobody");
    cr_assert_str_eq(cfg.shm_name, "/lurker-b");
    cr_assert_eq(cfg.queue_slots, 1024);
    cr_assert(port_set_has(&cfg.responder.ports, 1));
    cr_assert(!port_set_has(&cfg.responder.ports, 22));
    cr_assert(port_set_has(&cfg.responder.ports, 1024));
    cr_assert(!port_set_has(&cfg.responder.ports, 1025));
    cr_assert(port_set_has(&cfg.responder.ports, 8050));
    cr_assert(port_set_has(&cfg.responder.ports, 9200));
    cr_assert(!port_set_has(&cfg.responder.ports, 0));
    cr_assert_eq(cfg.responder.persona, PERSONA_FREEBSD);
    cr_assert_eq(cfg.responder.global_rate, 5000);
    cr_assert_eq(cfg.responder.global_burst, 100);
    cr_assert_eq(cfg.responder.source_rate, 50);
    cr_assert_eq(cfg.responder.source_burst, 60);
    cr_assert_eq(cfg.responder.source_buckets, 4096);
    cr_assert_eq(cfg.responder.firewall, FIREWALL_INGRESS);
    cr_assert(!cfg.responder.ack_data);
    cr_assert_eq(cfg.responder.nbanners, 2);
    cr_assert_eq(cfg.responder.banners[0].port, 2222);
    cr_assert_eq(cfg.responder.banners[0].len, strlen("SSH-2.0-OpenSSH_9.2p1\r\n"));
    cr_assert(memcmp(cfg.responder.banners[0].text, "SSH-2.0-OpenSSH_9.2p1\r\n", cfg.responder.banners[0].len) == 0);
    cr_assert_eq(cfg.responder.banners[1].len, strlen("220 ftp\r\n"));
    cr_assert(memcmp(cfg.responder.banners[1].text, "220 ftp\r\n", cfg.responder.banners[1].len) == 0);
    cr_assert_eq(cfg.capturer.snaplen, 1500);
    cr_assert_eq(cfg.capturer.buffer_size, 8ULL << 20);
    cr_assert_eq(cfg.capturer.flow_timeout, 120);
    cr_assert_eq(cfg.capturer.max_flow_age, 3600);
    cr_assert_eq(cfg.capturer.max_flows, 500);
    cr_assert_eq(cfg.capturer.max_flow_packets, 99);
    cr_assert_eq(cfg.capturer.max_flow_bytes, 64ULL << 10);
    cr_assert_eq(cfg.capturer.memory_limit, 2ULL << 30);
    cr_assert(!cfg.capturer.journal);
    cr_assert_eq(cfg.capturer.journal_max, 3ULL << 30);
    cr_assert_str_eq(cfg.spool.directory, "/srv/spool");
    cr_assert_eq(cfg.spool.quota, 10ULL << 30);
    cr_assert_eq(cfg.shipper.storage, STORAGE_S3);
    cr_assert_str_eq(cfg.shipper.archive_dir, "/srv/archive");
    cr_assert_str_eq(cfg.shipper.key_template, "{sensor}/{yyyy}/{ts}.{us}_{proto}_{src}_{sport}_{dst}_{dport}.pcap");
    cr_assert_eq(cfg.shipper.concurrency, 16);
    cr_assert_eq(cfg.shipper.max_retries, 3);
    cr_assert_eq(cfg.shipper.failed_retry_interval, 3600);
    cr_assert_eq(cfg.shipper.metrics, METRICS_CLOUDWATCH);
    cr_assert_eq(cfg.shipper.metrics_interval, 30);
    cr_assert_str_eq(cfg.shipper.metrics_namespace, "Honeypot");
    cr_assert_str_eq(cfg.shipper.metrics_endpoint, "http://127.0.0.1:5001");
    cr_assert_str_eq(cfg.shipper.prometheus_file, "/var/lib/node_exporter/lurker.prom");
    cr_assert_str_eq(cfg.shipper.s3.bucket, "my-pcaps");
    cr_assert_str_eq(cfg.shipper.s3.region, "eu-central-1");
    cr_assert_str_eq(cfg.shipper.s3.prefix, "sensors/");
    cr_assert_str_eq(cfg.shipper.s3.endpoint, "http://127.0.0.1:5000");
    cr_assert(cfg.shipper.s3.path_style);
    cr_assert_str_eq(cfg.shipper.s3.sse, "aws:kms");
    cr_assert_str_eq(cfg.shipper.s3.profile, "honeypot");
}

Test(config, missing_file_names_the_path)
{
    static struct lurker_config cfg;
    char err[CONFIG_ERR_MAX];
    cr_assert_eq(config_load("/nonexistent/lurker.yaml", &cfg, err, sizeof err), -1);
    cr_assert_str_eq(err, "/nonexistent/lurker.yaml: cannot open: No such file or directory");
}

Test(config, all_ports_by_default)
{
    static struct lurker_config cfg;
    char err[CONFIG_ERR_MAX];
    cr_assert_eq(load(BASE, &cfg, err), 0, "%s", err);
    for (unsigned p = 0; p < 65536; p++)
        cr_assert(port_set_has(&cfg.responder.ports, (uint16_t)p), "port %u", p);
}
