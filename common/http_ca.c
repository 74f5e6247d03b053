#include "http_ca.h"

#include <stdlib.h>
#include <unistd.h>

static const char *const known_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine */
    "/etc/pki/tls/certs/ca-bundle.crt",   /* Amazon Linux, RHEL, Fedora */
    "/etc/ssl/cert.pem",                  /* Alpine, BSDs */
    NULL,
};

const char *http_ca_bundle(void)
{
    const char *env = getenv("CURL_CA_BUNDLE");
    if (env && env[0])
        return env;
    env = getenv("SSL_CERT_FILE");
    if (env && env[0])
        return env;
    for (int i = 0; known_bundles[i]; i++)
        if (access(known_bundles[i], R_OK) == 0)
            return known_bundles[i];
    return NULL;
}

void http_set_ca(CURL *curl)
{
    const char *bundle = http_ca_bundle();
    if (bundle)
        curl_easy_setopt(curl, CURLOPT_CAINFO, bundle);
}
